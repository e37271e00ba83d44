package oneroster

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/rostersync/rostersync/internal/oneroster/sample"
	"github.com/rostersync/rostersync/internal/roster"
)

// SampleCommand implements "rostersync sample": it writes a generated UK
// secondary school (or a trust of several) as a bulk OneRoster 1.1 CSV
// feed, to a folder or a zip file.
//
//	rostersync sample [--students N] [--staff M] [--schools K] [--seed S] [--year Y] (--out DIR | --zip FILE)
//
// It prints counts only, never names. args excludes the command name. A
// usage error wraps flag.ErrHelp when help was asked for.
func SampleCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return sampleCommand(ctx, args, stdout, stderr, time.Now())
}

// AcademicYear is the calendar year the school year running on date
// starts in, school years running 1 September to 31 August.
func AcademicYear(date time.Time) int {
	if date.Month() >= time.September {
		return date.Year()
	}
	return date.Year() - 1
}

func sampleCommand(ctx context.Context, args []string, stdout, stderr io.Writer, now time.Time) error {
	fs := flag.NewFlagSet("sample", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		students = fs.Int("students", sample.DefaultStudents, "pupils per school, spread over Years 7–13")
		staff    = fs.Int("staff", sample.DefaultStaff, "staff per school (three quarters teachers)")
		schools  = fs.Int("schools", 1, "schools in the trust")
		seed     = fs.Uint64("seed", 1, "random seed; the same seed writes the same files")
		year     = fs.Int("year", AcademicYear(now), "calendar year the academic year starts in (default: the current one, from 1 September)")
		out      = fs.String("out", "", "folder to write the CSV files into")
		zipPath  = fs.String("zip", "", "zip file to write instead of a folder")
		noDemo   = fs.Bool("no-demographics", false, "leave out demographics.csv")
	)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: rostersync sample [flags] (--out DIR | --zip FILE)")
		fmt.Fprintln(stderr, "Writes a generated UK secondary school as a OneRoster 1.1 CSV feed.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("sample: %w", err)
	}
	switch {
	case fs.NArg() > 0:
		fs.Usage()
		return fmt.Errorf("sample: unexpected argument %q", fs.Arg(0))
	case (*out == "") == (*zipPath == ""):
		fs.Usage()
		return errors.New("sample: give exactly one of --out and --zip")
	case *students < 0 || *staff < 0 || *schools < 1:
		return errors.New("sample: --students and --staff must be 0 or more, --schools 1 or more")
	case *year < 1900 || *year > 9998:
		return fmt.Errorf("sample: --year %d is not a plausible school year", *year)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("sample: %w", err)
	}

	// The generator reads zero as "default"; here zero means none.
	none := func(n int) int {
		if n == 0 {
			return -1
		}
		return n
	}
	r := sample.Generate(sample.Options{Seed: *seed, Students: none(*students), Staff: none(*staff), Schools: *schools,
		StartYear: *year, NoDemographics: *noDemo})

	dest := *out
	if *zipPath != "" {
		dest = *zipPath
		if err := writeZipFile(*zipPath, r); err != nil {
			return fmt.Errorf("sample: %w", err)
		}
	} else if err := WriteDir(*out, r, nil); err != nil {
		return fmt.Errorf("sample: %w", err)
	}
	c := r.Counts()
	var pupils, staffN int
	for i := range r.People {
		if r.People[i].Role == roster.RoleStudent {
			pupils++
		} else {
			staffN++
		}
	}
	fmt.Fprintf(stdout, "wrote %d school(s) to %s: %d people (%d students, %d staff), %d classes, %d enrolments\n",
		*schools, dest, c.People, pupils, staffN, c.Classes, c.Enrollments)
	return nil
}

// writeZipFile writes the zip next to its final name and renames it, so a
// failed run never leaves a truncated archive that looks complete.
func writeZipFile(path string, r *roster.Roster) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".sample-*.zip")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err := WriteZip(tmp, r, nil); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
