// Package oneroster reads OneRoster 1.1 feeds, the interchange every MIS
// vendor can export, into rostersync's canonical roster model, and refuses
// bad feeds before they reach a tenant.
//
// # Reading
//
// Open, Read and ReadZip read the CSV binding: a folder or zip of
// manifest.csv, orgs.csv, academicSessions.csv, courses.csv, classes.csv,
// users.csv, enrollments.csv and optionally demographics.csv, each file in
// bulk or delta mode as the manifest says. Client reads the REST binding
// (/ims/oneroster/v1p1/...). Both return a *Feed holding a complete,
// validated roster.Roster, or an error and no roster.
//
// # Errors
//
// Every problem is a *ParseError naming file, line, column, value and what
// was expected, with a sentinel cause (ErrBadEnum, ErrUnknownRef …).
// Problems are collected, up to ReadOptions.MaxErrors, into an *ErrorList;
// use errors.Is and errors.As, never the text. Values from personal columns
// (names, emails, dates of birth) stay out of Error strings so that errors
// can be logged.
//
// Some problems hide others, and are reported instead of them: a file the
// feed needs (orgs, users, or one that other records point into) with a
// header and no rows is one ErrNoRows at line 2, not a dangling reference
// from every record that points into it. Values with control characters
// (ErrControlChar) or over MaxFieldLength characters (ErrTooLong) refuse
// their row: the planner cleans format characters and shortens values to
// Graph's limits, saying so, but nothing absurd gets that far.
//
// # Guard
//
// A feed that lost too many people, classes or enrolments against the
// previous snapshot is not an error but a Guard verdict on the Feed: the run
// stops before planning until a person confirms it.
//
// # Sample data
//
// SampleCommand writes a generated UK secondary school (package
// oneroster/sample) as OneRoster CSV, for demos and benchmarks.
package oneroster
