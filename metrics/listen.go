package metrics

import (
	"fmt"
	"net"
	"net/netip"
)

// CheckListen refuses a metrics address that is not loopback unless
// public is set: the series show traffic, services and SMSC names to
// whoever reaches them. ":9464" and "0.0.0.0:9464" listen everywhere.
func CheckListen(addr string, public bool) error {
	if addr == "" || public || loopback(addr) {
		return nil
	}
	return fmt.Errorf("-metrics-listen %s is not a loopback address: the metrics show traffic, services and SMSC binds to whoever reaches them; "+
		"listen on 127.0.0.1 (and scrape through a proxy or from this host), or set -metrics-public (env USSDGW_METRICS_PUBLIC, config metrics_public: true) "+
		"if a firewall keeps the port private", addr)
}

func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsLoopback()
}
