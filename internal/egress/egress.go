// Package egress decides where rostersync may send a customer's
// credentials: the OneRoster token and base URLs a profile names. A
// profile is customer-controlled input, so without these rules it could
// point the client's Basic auth (and the secret in it) at the cloud
// metadata endpoint, at a service on the deployment's private network, or
// at a server of its choosing over plain http.
//
// The rules are checked twice: on the URL's literal host when a profile is
// saved (CheckURL), and on every address actually dialled (Policy.Client's
// dialer Control hook), so a host name that resolves, or later rebinds, to
// a refused address is still refused.
package egress

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/rostersync/rostersync/internal/config"
)

// ErrRefused is wrapped by every refusal of this package: a URL or address
// the policy does not allow. Retrying cannot help.
var ErrRefused = errors.New("egress refused")

// Policy is what a deployment allows roster sources to reach. The zero
// value is production's: https only, public addresses only, any host.
type Policy struct {
	// Local also allows plain http and loopback addresses, for the local
	// stack and tests (a OneRoster server on 127.0.0.1). Never in Azure.
	Local bool
	// AllowedHosts, when not empty, are the only host names a source may
	// use: an exact name ("mis.example.org") or "*." and a domain for its
	// subdomains ("*.example.org"). Compared case-insensitively.
	AllowedHosts []string
}

// FromSettings reads the policy from the LocalMode and
// RosterSourceAllowedHosts settings.
func FromSettings(getenv func(string) string) (Policy, error) {
	var p Policy
	if v := config.Lookup(getenv, config.LocalMode, ""); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return Policy{}, fmt.Errorf("setting %s=%q: want true or false", config.LocalMode, v)
		}
		p.Local = b
	}
	for h := range strings.SplitSeq(config.Lookup(getenv, config.RosterSourceAllowedHosts, ""), ",") {
		h = strings.ToLower(strings.TrimSpace(h))
		if h == "" {
			continue
		}
		if strings.ContainsAny(h, "/:@ ") || strings.Count(h, "*") > 1 || strings.Contains(h, "*") && !strings.HasPrefix(h, "*.") {
			return Policy{}, fmt.Errorf("setting %s: %q is not a host name or *.domain", config.RosterSourceAllowedHosts, h)
		}
		p.AllowedHosts = append(p.AllowedHosts, h)
	}
	return p, nil
}

// String describes the policy for logs.
func (p Policy) String() string {
	mode := "strict"
	if p.Local {
		mode = "local (http and loopback allowed)"
	}
	if len(p.AllowedHosts) == 0 {
		return mode + ", any public host"
	}
	return mode + ", hosts " + strings.Join(p.AllowedHosts, ",")
}

// CheckURL checks a URL before anything is sent to it: an absolute http(s)
// URL without user info, https unless the policy is local and the host is
// loopback, a host on the allow-list, and a literal IP host (or
// "localhost") that is an allowed address. A host name is resolved only
// when dialled; see Client.
func (p Policy) CheckURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" || u.Opaque != "" {
		return fmt.Errorf("%w: %q is not an absolute URL", ErrRefused, raw)
	}
	return p.checkURL(u)
}

func (p Policy) checkURL(u *url.URL) error {
	if u.User != nil {
		return fmt.Errorf("%w: %s: a URL may not carry a user name or password", ErrRefused, u.Redacted())
	}
	host := strings.ToLower(strings.TrimSuffix(u.Hostname(), "."))
	if host == "" {
		return fmt.Errorf("%w: %s has no host", ErrRefused, u.Redacted())
	}
	loopbackName := host == "localhost" || strings.HasSuffix(host, ".localhost")
	addr, isIP := parseHostIP(host)
	switch u.Scheme {
	case "https":
	case "http":
		if !p.Local || !(loopbackName || isIP && addr.IsLoopback()) {
			return fmt.Errorf("%w: %s: want https (plain http only to a loopback address in local mode)", ErrRefused, u.Redacted())
		}
	default:
		return fmt.Errorf("%w: %s: want an https URL", ErrRefused, u.Redacted())
	}
	if !p.hostAllowed(host) {
		return fmt.Errorf("%w: host %s is not in %s (%s)", ErrRefused, host, config.RosterSourceAllowedHosts, strings.Join(p.AllowedHosts, ","))
	}
	if loopbackName && !p.Local {
		return fmt.Errorf("%w: host %s is a loopback address", ErrRefused, host)
	}
	if isIP {
		if err := p.CheckAddr(addr); err != nil {
			return fmt.Errorf("host of %s: %w", u.Redacted(), err)
		}
	}
	return nil
}

// parseHostIP reads a literal IP host, including a zone (fe80::1%eth0).
func parseHostIP(host string) (netip.Addr, bool) {
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}

func (p Policy) hostAllowed(host string) bool {
	if len(p.AllowedHosts) == 0 {
		return true
	}
	for _, h := range p.AllowedHosts {
		h = strings.ToLower(h)
		if dom, ok := strings.CutPrefix(h, "*."); ok {
			if strings.HasSuffix(host, "."+dom) {
				return true
			}
			continue
		}
		if host == h {
			return true
		}
	}
	return false
}

// refusedPrefixes are ranges that are neither loopback nor caught by
// netip's predicates but must not be reached either.
var refusedPrefixes = []struct {
	prefix netip.Prefix
	why    string
}{
	{netip.MustParsePrefix("0.0.0.0/8"), "\"this network\""},
	{netip.MustParsePrefix("100.64.0.0/10"), "shared address space (carrier-grade NAT)"},
	{netip.MustParsePrefix("192.0.0.0/24"), "IETF protocol assignments"},
	{netip.MustParsePrefix("198.18.0.0/15"), "benchmarking"},
	{netip.MustParsePrefix("240.0.0.0/4"), "reserved"},
	// Azure's WireServer and platform DNS: a public-looking address every
	// Azure VM and Functions host can reach, which serves platform data.
	{netip.MustParsePrefix("168.63.129.16/32"), "Azure platform (WireServer)"},
	{netip.MustParsePrefix("fec0::/10"), "site-local"},
	{netip.MustParsePrefix("64:ff9b::/96"), "NAT64, which can reach private IPv4"},
	{netip.MustParsePrefix("64:ff9b:1::/48"), "NAT64, which can reach private IPv4"},
	{netip.MustParsePrefix("2002::/16"), "6to4, which can reach private IPv4"},
}

// CheckAddr refuses an address a roster source may not reach: unspecified,
// private (10/8, 172.16/12, 192.168/16, fc00::/7), link-local (169.254/16,
// which holds the cloud metadata endpoint 169.254.169.254, and fe80::/10),
// multicast, the reserved ranges above, and loopback unless the policy is
// local.
func (p Policy) CheckAddr(a netip.Addr) error {
	a = a.Unmap()
	why := ""
	switch {
	case !a.IsValid():
		why = "not an IP address"
	case a.IsUnspecified():
		why = "unspecified"
	case a.IsLoopback():
		if p.Local {
			return nil
		}
		why = "loopback (allowed only in local mode)"
	case a.IsPrivate():
		why = "private"
	case a.IsLinkLocalUnicast():
		why = "link-local (cloud metadata lives here)"
	case a.IsMulticast(), a.IsLinkLocalMulticast(), a.IsInterfaceLocalMulticast():
		why = "multicast"
	default:
		for _, r := range refusedPrefixes {
			if r.prefix.Contains(a) {
				why = r.why
				break
			}
		}
	}
	if why == "" {
		return nil
	}
	return fmt.Errorf("%w: address %s is %s", ErrRefused, a, why)
}

// control is the dialer hook: it sees the address actually being
// connected to, after DNS, so no resolution trick gets past it.
func (p Policy) control(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: cannot read dialled address %q", ErrRefused, address)
	}
	return p.CheckAddr(ap.Addr())
}

// DialContext dials like net.Dialer, refusing any address CheckAddr
// refuses.
func (p Policy) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	d := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second, Control: p.control}
	return d.DialContext(ctx, network, address)
}

// maxRedirects bounds same-host redirects, as net/http's default does.
const maxRedirects = 10

// Client returns an HTTP client that dials only allowed addresses, uses no
// proxy (a proxy would resolve and dial for us, out of the hook's sight),
// and follows a redirect only to the same scheme, host and port, and only
// when the new URL passes CheckURL: a redirect must not carry credentials
// to another server. timeout bounds each request (0 means none).
func (p Policy) Client(timeout time.Duration) *http.Client {
	t := &http.Transport{
		Proxy:                 nil,
		DialContext:           p.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          20,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
	return &http.Client{Transport: t, Timeout: timeout, CheckRedirect: p.CheckRedirect}
}

// CheckRedirect is an http.Client.CheckRedirect that refuses a redirect to
// another origin or to a URL CheckURL refuses.
func (p Policy) CheckRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= maxRedirects {
		return fmt.Errorf("%w: stopped after %d redirects", ErrRefused, len(via))
	}
	first := via[0].URL
	if !strings.EqualFold(req.URL.Scheme, first.Scheme) || !strings.EqualFold(req.URL.Host, first.Host) {
		return fmt.Errorf("%w: redirect from %s to another server (%s://%s)", ErrRefused, first.Host, req.URL.Scheme, req.URL.Host)
	}
	return p.checkURL(req.URL)
}
