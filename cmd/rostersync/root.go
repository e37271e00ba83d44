package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// hostFiles are what a root folder must hold: the host configuration and
// the function folders, as in the repository and in the deployed package.
var hostFiles = []string{"host.json", "functions"}

// findRoot is the folder holding host.json and functions/: --root when
// given, else the nearest folder at or above the binary (bin/rostersync in
// a clone, the package's root when deployed), else at or above the working
// directory (go run builds the binary in a temporary folder). Commands
// work from any directory; the error names what was looked for and where.
func findRoot(flagRoot string, env environment) (string, error) {
	if flagRoot != "" {
		abs, err := filepath.Abs(flagRoot)
		if err != nil {
			return "", err
		}
		if missing := missingHostFiles(abs); len(missing) > 0 {
			return "", usageError{fmt.Sprintf("--root %s holds no %s", abs, strings.Join(missing, " or "))}
		}
		return abs, nil
	}
	var starts []string
	executable := env.executable
	if executable == nil {
		executable = os.Executable
	}
	if exe, err := executable(); err == nil {
		if resolved, err := filepath.EvalSymlinks(exe); err == nil {
			exe = resolved
		}
		starts = append(starts, filepath.Dir(exe))
	}
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	for _, start := range starts {
		for dir := start; ; dir = filepath.Dir(dir) {
			if len(missingHostFiles(dir)) == 0 {
				return dir, nil
			}
			if parent := filepath.Dir(dir); parent == dir {
				break
			}
		}
	}
	return "", fmt.Errorf("cannot find the host files (%s) in any folder at or above %s; give their folder with --root",
		strings.Join(hostFiles, " and "), strings.Join(starts, " or "))
}

func missingHostFiles(dir string) []string {
	var missing []string
	for _, name := range hostFiles {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			missing = append(missing, name)
		}
	}
	return missing
}
