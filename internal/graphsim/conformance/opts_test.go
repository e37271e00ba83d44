package conformance_test

import (
	"testing"

	"github.com/google/uuid"
)

func ptrUUID(t *testing.T, s string) *uuid.UUID {
	t.Helper()
	u, err := uuid.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return &u
}
