package egress

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rostersync/rostersync/internal/config"
)

func TestCheckURL(t *testing.T) {
	strict, local := Policy{}, Policy{Local: true}
	listed := Policy{AllowedHosts: []string{"mis.example.org", "*.wonde.example"}}
	tests := []struct {
		name   string
		pol    Policy
		url    string
		refuse bool
	}{
		{"public https", strict, "https://mis.example.org/ims/oneroster/v1p1", false},
		{"plain http to a public host", strict, "http://mis.example.org/token", true},
		{"plain http to a public host, local mode", local, "http://mis.example.org/token", true},
		{"plain http to loopback", strict, "http://127.0.0.1:8080/token", true},
		{"plain http to loopback, local mode", local, "http://127.0.0.1:8080/token", false},
		{"plain http to localhost, local mode", local, "http://localhost:8080/token", false},
		{"https to localhost", strict, "https://localhost/token", true},
		{"https to a loopback name", strict, "https://api.localhost/token", true},
		{"https to ::1", strict, "https://[::1]/token", true},
		{"cloud metadata", strict, "https://169.254.169.254/metadata/identity/oauth2/token", true},
		{"cloud metadata, local mode", local, "http://169.254.169.254/latest/meta-data/", true},
		{"private 10/8", strict, "https://10.0.0.5/token", true},
		{"private 10/8, local mode", local, "https://10.0.0.5/token", true},
		{"private 172.16/12", strict, "https://172.20.1.1/token", true},
		{"private 192.168/16", strict, "https://192.168.1.10/token", true},
		{"private fc00::/7", strict, "https://[fd00::1]/token", true},
		{"link-local fe80::/10", strict, "https://[fe80::1%25eth0]/token", true},
		{"IPv4-mapped private", strict, "https://[::ffff:10.0.0.5]/token", true},
		{"unspecified", local, "http://0.0.0.0:8080/token", true},
		{"unspecified IPv6", strict, "https://[::]/token", true},
		{"Azure WireServer", strict, "https://168.63.129.16/machine", true},
		{"public IP literal", strict, "https://203.0.113.7/token", false},
		{"user info", strict, "https://id:secret@mis.example.org/token", true},
		{"other scheme", strict, "ftp://mis.example.org/token", true},
		{"relative", strict, "/token", true},
		{"on the allow-list", listed, "https://mis.example.org/token", false},
		{"allow-list is case-insensitive", listed, "https://MIS.Example.org./token", false},
		{"subdomain of an allowed domain", listed, "https://eu.wonde.example/token", false},
		{"the allowed domain itself", listed, "https://wonde.example/token", true},
		{"off the allow-list", listed, "https://attacker.example/token", true},
		{"look-alike suffix", listed, "https://evilwonde.example/token", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.pol.CheckURL(tt.url)
			if tt.refuse && !errors.Is(err, ErrRefused) {
				t.Errorf("CheckURL(%q) = %v, want ErrRefused", tt.url, err)
			}
			if !tt.refuse && err != nil {
				t.Errorf("CheckURL(%q) = %v, want nil", tt.url, err)
			}
		})
	}
}

// TestDialChecksResolvedAddress dials a host name, not an IP: only the
// resolved address can show that it is loopback, as it would be for a
// public-looking name rebound to 127.0.0.1.
func TestDialChecksResolvedAddress(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var accepted atomic.Int32
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			c.Close()
		}
	}()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	if c, err := (Policy{}).DialContext(ctx, "tcp", net.JoinHostPort("localhost", port)); !errors.Is(err, ErrRefused) {
		if c != nil {
			c.Close()
		}
		t.Errorf("production DialContext(localhost) = %v, want ErrRefused", err)
	}
	// The whole client: https, so only the dial can refuse it.
	resp, err := (Policy{}).Client(5 * time.Second).Get("https://localhost:" + port + "/token")
	if err == nil {
		resp.Body.Close()
	}
	if !errors.Is(err, ErrRefused) {
		t.Errorf("production client GET https://localhost = %v, want ErrRefused", err)
	}
	if n := accepted.Load(); n != 0 {
		t.Errorf("production mode opened %d connections to loopback", n)
	}

	c, err := (Policy{Local: true}).DialContext(ctx, "tcp", net.JoinHostPort("localhost", port))
	if err != nil {
		t.Fatalf("local DialContext(localhost) = %v, want a connection", err)
	}
	c.Close()
}

func TestRedirects(t *testing.T) {
	var elsewhere atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		elsewhere.Add(1)
		w.WriteHeader(http.StatusOK)
	}))
	defer other.Close()
	// Same loopback address, but another host name and port: another server.
	otherURL, _ := url.Parse(other.URL)
	otherByName := "http://localhost:" + otherURL.Port()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/away":
			http.Redirect(w, r, otherByName+"/steal", http.StatusTemporaryRedirect)
		case "/away-same-name":
			http.Redirect(w, r, other.URL+"/steal", http.StatusTemporaryRedirect)
		case "/here":
			http.Redirect(w, r, "/final", http.StatusFound)
		case "/final":
			w.WriteHeader(http.StatusOK)
		}
	}))
	defer srv.Close()
	client := Policy{Local: true}.Client(5 * time.Second)
	post := func(path string) (*http.Response, error) {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+path, strings.NewReader("grant_type=client_credentials"))
		req.SetBasicAuth("id", "secret")
		return client.Do(req)
	}
	for _, path := range []string{"/away", "/away-same-name"} {
		resp, err := post(path)
		if err == nil {
			resp.Body.Close()
		}
		if !errors.Is(err, ErrRefused) {
			t.Errorf("POST %s redirected to another server = %v, want ErrRefused", path, err)
		}
	}
	if n := elsewhere.Load(); n != 0 {
		t.Errorf("the other server received %d requests, want none", n)
	}
	resp, err := post("/here")
	if err != nil {
		t.Fatalf("POST /here redirected on the same server = %v, want it followed", err)
	}
	resp.Body.Close()
	if resp.Request.URL.Path != "/final" {
		t.Errorf("same-server redirect ended at %s, want /final", resp.Request.URL.Path)
	}
}

func TestFromSettings(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		want    Policy
		wantErr bool
	}{
		{"production default", nil, Policy{}, false},
		{"local", map[string]string{config.LocalMode: "true"}, Policy{Local: true}, false},
		{"hosts", map[string]string{config.RosterSourceAllowedHosts: " MIS.example.org, *.wonde.example ,"},
			Policy{AllowedHosts: []string{"mis.example.org", "*.wonde.example"}}, false},
		{"bad bool", map[string]string{config.LocalMode: "yes please"}, Policy{}, true},
		{"URL in the list", map[string]string{config.RosterSourceAllowedHosts: "https://mis.example.org"}, Policy{}, true},
		{"wildcard inside", map[string]string{config.RosterSourceAllowedHosts: "mis.*.org"}, Policy{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := FromSettings(func(k string) string { return tt.env[k] })
			if (err != nil) != tt.wantErr {
				t.Fatalf("FromSettings = %v, want error %v", err, tt.wantErr)
			}
			if got.Local != tt.want.Local || !slices.Equal(got.AllowedHosts, tt.want.AllowedHosts) {
				t.Errorf("FromSettings = %+v, want %+v", got, tt.want)
			}
		})
	}
}
