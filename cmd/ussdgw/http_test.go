package main

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
)

func postForm(h http.Handler, session, phone, code, text string) (int, string, http.Header) {
	form := url.Values{"sessionId": {session}, "phoneNumber": {phone}, "serviceCode": {code}, "text": {text}}
	req := httptest.NewRequest(http.MethodPost, "/ussd/africastalking", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w.Code, w.Body.String(), w.Header()
}
