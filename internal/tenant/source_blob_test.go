package tenant

import (
	"errors"
	"testing"
)

// TestBlobSourceNames: a blob source names a container and a prefix that
// stays inside the customer's own folder of it; SDS kinds and formats are
// known, others refused.
func TestBlobSourceNames(t *testing.T) {
	tests := []struct {
		src RosterSource
		ok  bool
	}{
		{RosterSource{Kind: SourceBlob}, true},
		{RosterSource{Kind: SourceBlob, Container: "roster-drops", Prefix: "mis/nightly/"}, true},
		{RosterSource{Kind: SourceBlob, Prefix: "../other-customer"}, false},
		{RosterSource{Kind: SourceBlob, Prefix: "/abs"}, false},
		{RosterSource{Kind: SourceBlob, Prefix: "a//b"}, false},
		{RosterSource{Kind: SourceBlob, Prefix: `a\b`}, false},
		{RosterSource{Kind: SourceBlob, Container: "Roster_Drops"}, false},
		{RosterSource{Kind: SourceSDSv1, Path: "sds"}, true},
		{RosterSource{Kind: SourceCSV, Path: "sds", Format: FormatSDSv21}, true},
		{RosterSource{Kind: SourceCSV, Format: "clever"}, false},
		{RosterSource{Kind: "ftp"}, false},
		{RosterSource{Kind: SourceCSV, MaxQuarantinePercent: 150}, false},
	}
	for _, tt := range tests {
		err := tt.src.Validate("oak", anyDeployment)
		if (err == nil) != tt.ok || err != nil && !errors.Is(err, ErrInvalid) {
			t.Errorf("Validate(%+v) = %v, want ok %v", tt.src, err, tt.ok)
		}
	}
}
