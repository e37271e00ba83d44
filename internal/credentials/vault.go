package credentials

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/rostersync/rostersync/internal/state"
)

// TableCredentials holds encrypted initial credentials until exported.
const TableCredentials = state.TableCredentials

// KeySize is the AES-256 key length.
const KeySize = 32

// ErrKey marks a missing or malformed encryption key.
var ErrKey = errors.New("credentials key")

// Vault keeps initial credentials encrypted with AES-GCM under a key from
// the secret source (Key Vault in production), so a copy of the table alone
// reveals nothing. Each row's additional data binds it to its customer, run
// and person: a row copied elsewhere does not decrypt.
type Vault struct {
	backend state.Backend
	aead    cipher.AEAD
	// exportTTL is how long an export stays fetchable unacknowledged.
	exportTTL time.Duration
	now       func() time.Time
}

// DefaultExportTTL is how long an unacknowledged export can be fetched
// again before it is destroyed.
const DefaultExportTTL = 7 * 24 * time.Hour

// Option configures a Vault.
type Option func(*Vault)

// WithExportTTL sets how long an unacknowledged export stays fetchable;
// zero or less keeps DefaultExportTTL.
func WithExportTTL(d time.Duration) Option {
	return func(v *Vault) {
		if d > 0 {
			v.exportTTL = d
		}
	}
}

// WithClock sets the vault's clock (tests).
func WithClock(now func() time.Time) Option {
	return func(v *Vault) {
		if now != nil {
			v.now = now
		}
	}
}

// ParseKey reads a base64 key of KeySize bytes.
func ParseKey(s string) ([]byte, error) {
	k, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil || len(k) != KeySize {
		return nil, fmt.Errorf("%w: want %d bytes, base64-encoded", ErrKey, KeySize)
	}
	return k, nil
}

// NewKey makes a fresh base64 key, for setting up a local secret.
func NewKey() string {
	k := make([]byte, KeySize)
	_, _ = rand.Read(k)
	return base64.StdEncoding.EncodeToString(k)
}

// NewVault returns a vault over b with key.
func NewVault(b state.Backend, key []byte, opts ...Option) (*Vault, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("%w: %d bytes, want %d", ErrKey, len(key), KeySize)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrKey, err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrKey, err)
	}
	v := &Vault{backend: b, aead: aead, exportTTL: DefaultExportTTL, now: time.Now}
	for _, o := range opts {
		o(v)
	}
	return v, nil
}

// Credential is one handed-over initial credential.
type Credential struct {
	Key      string `json:"key"`
	UPN      string `json:"userPrincipalName"`
	Password string `json:"password"`
}

// String never shows the password.
func (c Credential) String() string { return c.Key + " " + c.UPN + " [password redacted]" }

type sealed struct {
	UPN      string `json:"u"`
	Password string `json:"p"`
}

func aad(customerID, runID, key string) []byte {
	return []byte(customerID + "\x00" + runID + "\x00" + key)
}

// PutCredential stores one credential; see PutCredentials.
func (v *Vault) PutCredential(ctx context.Context, customerID, runID, key, upn, password string) error {
	return v.PutCredentials(ctx, customerID, runID, []Credential{{Key: key, UPN: upn, Password: password}})
}

// PutCredentials stores credentials in transactions of a hundred, each
// replacing an earlier one for the same person in the same run (the latest
// password is the one Graph got).
func (v *Vault) PutCredentials(ctx context.Context, customerID, runID string, creds []Credential) error {
	t, err := v.backend.Table(ctx, TableCredentials)
	if err != nil {
		return fmt.Errorf("open credentials table: %w", err)
	}
	ops := make([]state.Op, 0, len(creds))
	seen := map[string]int{}
	for _, c := range creds {
		plain, err := json.Marshal(sealed{UPN: c.UPN, Password: c.Password})
		if err != nil {
			return err
		}
		nonce := make([]byte, v.aead.NonceSize())
		if _, err := rand.Read(nonce); err != nil {
			return err
		}
		box := v.aead.Seal(nonce, nonce, plain, aad(customerID, runID, c.Key))
		op := state.Op{Kind: state.OpUpsert, Entity: state.Entity{PartitionKey: state.EncodeKey(customerID, runID), RowKey: state.EncodeKey(c.Key),
			Props: map[string]string{"Sealed": base64.StdEncoding.EncodeToString(box)}}}
		if i, dup := seen[c.Key]; dup {
			ops[i] = op // a transaction may touch a row once: keep the latest
			continue
		}
		seen[c.Key] = len(ops)
		ops = append(ops, op)
	}
	for _, chunk := range state.Chunk(ops) {
		if err := t.Transact(ctx, chunk); err != nil {
			return fmt.Errorf("store %d credentials of run %s: %w", len(chunk), runID, err)
		}
	}
	return nil
}

// Count says how many credentials of a run wait for export or for the
// acknowledgement of an export.
func (v *Vault) Count(ctx context.Context, customerID, runID string) (int, error) {
	t, err := v.backend.Table(ctx, TableCredentials)
	if err != nil {
		return 0, err
	}
	rows, err := t.List(ctx, state.Query{PartitionKey: state.EncodeKey(customerID, runID)})
	return len(rows), err
}
