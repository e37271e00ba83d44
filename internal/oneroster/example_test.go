package oneroster_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/rostersync/rostersync/internal/oneroster"
	"github.com/rostersync/rostersync/internal/roster"
)

// A run reads the school's feed, stops on any located error, honours the
// shrink guard, and then works on the active session only.
func ExampleOpen() {
	ctx := context.Background()
	feed, err := oneroster.Open(ctx, "../../testdata/oneroster/sample", &oneroster.ReadOptions{
		ValidateOptions: oneroster.ValidateOptions{Session: "ay-2025"},
	})
	var problems *oneroster.ErrorList
	if errors.As(err, &problems) {
		fmt.Println(len(problems.Errs), "problems; nothing synced")
		return
	}
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := feed.Guard.Err(); err != nil {
		fmt.Println("needs confirmation:", err)
		return
	}
	view, err := roster.NewView(feed.Roster, feed.Session, roster.NewDate(2025, 10, 6))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("classes in session:", len(view.Classes()))
	fmt.Println("active people:", len(view.ActivePeople()))
	for _, yg := range view.YearGroups("sch-kb") {
		fmt.Printf("year %s: %d pupils, registration groups %v\n", yg.Grade, len(yg.Students), yg.Homerooms)
	}
	// Output:
	// classes in session: 7
	// active people: 10
	// year 07: 3 pupils, registration groups [cls-7kb]
	// year 08: 1 pupils, registration groups [cls-8kb]
	// year 12: 1 pupils, registration groups [cls-12kb]
}
