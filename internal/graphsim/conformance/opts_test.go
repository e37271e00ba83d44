package conformance_test

import "github.com/rostersync/rostersync/internal/graphsim"

func graphsimOptions() graphsim.Options { return graphsim.Options{} }
