package graph

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestNewFactoryValidation(t *testing.T) {
	pemBytes := selfSignedPEM(t)
	tests := []struct {
		name    string
		cfg     Config
		opts    []Option
		wantErr string // substring of the message; "" means success
	}{
		// Accepted.
		{name: "federated", cfg: Config{Mode: ModeFederated, AppClientID: appID, ManagedIdentityClientID: miID}},
		{name: "federated with injected assertion needs no identity id", cfg: Config{Mode: ModeFederated, AppClientID: appID}, opts: []Option{WithAssertionCredential(&assertionCred{})}},
		{name: "secret", cfg: Config{Mode: ModeSecret, AppClientID: appID, ClientSecret: "s"}},
		{name: "certificate", cfg: Config{Mode: ModeCertificate, AppClientID: appID, CertificatePEM: pemBytes}},
		{name: "static on loopback", cfg: Config{Mode: ModeStatic, BaseURL: "http://127.0.0.1:7071/v1.0"}},
		{name: "static on localhost", cfg: Config{Mode: ModeStatic, BaseURL: "http://localhost:7071/v1.0/"}},
		{name: "static on IPv6 loopback", cfg: Config{Mode: ModeStatic, BaseURL: "http://[::1]:7071/v1.0"}},
		{name: "static remote when allowed", cfg: Config{Mode: ModeStatic, BaseURL: "http://graphsim:8080/v1.0", AllowStaticRemote: true}},
		{name: "secret over http to loopback", cfg: Config{Mode: ModeSecret, AppClientID: appID, ClientSecret: "s", BaseURL: "http://127.0.0.1:1/v1.0"}},
		{name: "retry at maximum", cfg: Config{Mode: ModeStatic, BaseURL: "http://127.0.0.1/v1.0", RetryMaxAttempts: 10}},

		// Rejected.
		{name: "empty mode", cfg: Config{AppClientID: appID}, wantErr: "Mode is empty"},
		{name: "unknown mode", cfg: Config{Mode: "password", AppClientID: appID}, wantErr: `unknown Mode "password"`},
		{name: "missing app id", cfg: Config{Mode: ModeSecret, ClientSecret: "s"}, wantErr: "AppClientID is required"},
		{name: "app id not a GUID", cfg: Config{Mode: ModeSecret, AppClientID: "my-app", ClientSecret: "s"}, wantErr: "not a GUID"},
		{name: "federated without identity", cfg: Config{Mode: ModeFederated, AppClientID: appID}, wantErr: "ManagedIdentityClientID"},
		{name: "identity id not a GUID", cfg: Config{Mode: ModeFederated, AppClientID: appID, ManagedIdentityClientID: "uami"}, wantErr: "not a GUID"},
		{name: "secret missing", cfg: Config{Mode: ModeSecret, AppClientID: appID}, wantErr: "ClientSecret is required"},
		{name: "certificate missing", cfg: Config{Mode: ModeCertificate, AppClientID: appID}, wantErr: "CertificatePEM is required"},
		{name: "certificate garbage", cfg: Config{Mode: ModeCertificate, AppClientID: appID, CertificatePEM: []byte("not pem")}, wantErr: "CertificatePEM"},
		{name: "secret left over in federated mode", cfg: Config{Mode: ModeFederated, AppClientID: appID, ManagedIdentityClientID: miID, ClientSecret: "old"}, wantErr: "ClientSecret is set"},
		{name: "static token in secret mode", cfg: Config{Mode: ModeSecret, AppClientID: appID, ClientSecret: "s", StaticToken: "x"}, wantErr: "StaticToken is set"},
		{name: "static against real Graph", cfg: Config{Mode: ModeStatic}, wantErr: "not loopback"},
		{name: "static against remote host", cfg: Config{Mode: ModeStatic, BaseURL: "http://graphsim:8080/v1.0"}, wantErr: "AllowStaticRemote"},
		{name: "static token with whitespace", cfg: Config{Mode: ModeStatic, BaseURL: "http://127.0.0.1/v1.0", StaticToken: "a b"}, wantErr: "whitespace"},
		{name: "credential over http to remote host", cfg: Config{Mode: ModeSecret, AppClientID: appID, ClientSecret: "s", BaseURL: "http://graph.example/v1.0"}, wantErr: "https only"},
		{name: "base URL not http", cfg: Config{Mode: ModeStatic, BaseURL: "ftp://127.0.0.1/v1.0"}, wantErr: "http(s) URL"},
		{name: "base URL without host", cfg: Config{Mode: ModeStatic, BaseURL: "http:///v1.0"}, wantErr: "no host"},
		{name: "base URL relative", cfg: Config{Mode: ModeStatic, BaseURL: "/v1.0"}, wantErr: "http(s) URL"},
		{name: "base URL unparsable", cfg: Config{Mode: ModeStatic, BaseURL: "http://[::1"}, wantErr: "BaseURL"},
		{name: "base URL with query", cfg: Config{Mode: ModeStatic, BaseURL: "http://127.0.0.1/v1.0?x=1"}, wantErr: "query"},
		{name: "retry above kiota's cap", cfg: Config{Mode: ModeStatic, BaseURL: "http://127.0.0.1/v1.0", RetryMaxAttempts: 11}, wantErr: "above the maximum 10"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := NewFactory(tt.cfg, tt.opts...)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("NewFactory(%v) = %v, want success", tt.cfg, err)
				}
				if f.s.BaseURL == "" || strings.HasSuffix(f.s.BaseURL, "/") {
					t.Errorf("normalised BaseURL = %q, want non-empty without trailing slash", f.s.BaseURL)
				}
				return
			}
			if !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("NewFactory(%v) = %v, want ErrInvalidConfig", tt.cfg, err)
			}
			// The message is for operators; check it names the problem.
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("NewFactory(%v) = %q, want it to mention %q", tt.cfg, err, tt.wantErr)
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	f := newFactory(t, Config{Mode: ModeSecret, AppClientID: appID, ClientSecret: "s"})
	if f.s.BaseURL != DefaultBaseURL {
		t.Errorf("BaseURL = %q, want %q", f.s.BaseURL, DefaultBaseURL)
	}
	if f.s.RetryMaxAttempts != DefaultRetryMaxAttempts {
		t.Errorf("RetryMaxAttempts = %d, want %d", f.s.RetryMaxAttempts, DefaultRetryMaxAttempts)
	}
	st := newFactory(t, Config{Mode: ModeStatic, BaseURL: "http://127.0.0.1/v1.0"})
	if st.s.StaticToken != DefaultStaticToken {
		t.Errorf("StaticToken = %q, want %q", st.s.StaticToken, DefaultStaticToken)
	}
}

// TestConfigNeverPrintsSecrets formats a Config and a Factory every way fmt
// can and checks no secret appears.
func TestConfigNeverPrintsSecrets(t *testing.T) {
	const secret = "S3CR3T-value"
	pemBytes := selfSignedPEM(t)
	pemMarker := string(pemBytes[40:80])
	cfgs := []Config{
		{Mode: ModeSecret, AppClientID: appID, ClientSecret: secret},
		{Mode: ModeCertificate, AppClientID: appID, CertificatePEM: pemBytes},
		{Mode: ModeStatic, BaseURL: "http://127.0.0.1/v1.0", StaticToken: secret + "{tenant}"},
	}
	for _, cfg := range cfgs {
		f := newFactory(t, cfg)
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x"} {
			for _, arg := range []any{cfg, &cfg, f} {
				out := fmt.Sprintf(verb, arg)
				for _, leak := range []string{secret, pemMarker, fmt.Sprintf("%x", secret)} {
					if strings.Contains(out, leak) {
						t.Errorf("Sprintf(%q, %T) in %s mode = %q, leaks a secret", verb, arg, cfg.Mode, out)
					}
				}
			}
		}
		if !strings.Contains(fmt.Sprint(cfg), "[redacted]") {
			t.Errorf("Sprint(%s config) = %q, want the secret shown as [redacted]", cfg.Mode, fmt.Sprint(cfg))
		}
	}
}
