package gateway

import (
	"net/http"
	"time"
)

// Limits every listener of the gateway applies, so that a slow or
// oversized client holds a connection for seconds, not for ever:
// net/http serves each connection on its own goroutine, so slow ones do
// not stop others, and these bounds make them go away.
const (
	// HeaderTimeout bounds reading a request's headers (slowloris).
	HeaderTimeout = 5 * time.Second
	// ReadTimeout bounds reading a whole request, body included.
	ReadTimeout = 10 * time.Second
	// IdleTimeout closes a kept-alive connection with no request.
	IdleTimeout = 120 * time.Second
	// MaxHeaderBytes bounds a request's headers (net/http's default is 1 MB).
	MaxHeaderBytes = 16 << 10
)

// NewHTTPServer returns an http.Server for h with the gateway's limits;
// write bounds writing an answer (a USSD step's budget and a margin).
func NewHTTPServer(h http.Handler, write time.Duration) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: HeaderTimeout,
		ReadTimeout:       ReadTimeout,
		WriteTimeout:      write,
		IdleTimeout:       IdleTimeout,
		MaxHeaderBytes:    MaxHeaderBytes,
	}
}
