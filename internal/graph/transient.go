package graph

import (
	"errors"
	"net/http"
)

// statusError is a failed Graph read with its HTTP status. It says whether
// the failure passes by itself (Transient), which the job runner reads to
// retry on its own schedule rather than burn a Service Bus delivery.
type statusError struct {
	status int
	err    error
}

func (e statusError) Error() string { return e.err.Error() }
func (e statusError) Unwrap() error { return e.err }
func (e statusError) Transient() bool {
	return e.status >= 500 || e.status == http.StatusTooManyRequests || e.status == http.StatusRequestTimeout
}

// classify keeps a Graph answer's status on the error: every error the SDK
// returns for an HTTP answer has GetStatusCode. Other errors (network,
// context) pass unchanged; the runner recognises those itself.
func classify(err error) error {
	var api interface{ GetStatusCode() int }
	if err == nil || !errors.As(err, &api) || api.GetStatusCode() == 0 {
		return err
	}
	return statusError{status: api.GetStatusCode(), err: err}
}
