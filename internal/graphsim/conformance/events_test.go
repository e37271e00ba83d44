package conformance_test

import (
	"testing"

	"github.com/microsoftgraph/msgraph-sdk-go/models"
	"github.com/microsoftgraph/msgraph-sdk-go/users"

	"github.com/rostersync/rostersync/internal/graphsim"
)

const lessonTag = "String {66f5a359-4659-4830-9070-00047ec6ac6e} Name MisLessonId"

func lessonEvent(subject, tag, start, end string) models.Eventable {
	ev := models.NewEvent()
	ev.SetSubject(ptr(subject))
	st := models.NewDateTimeTimeZone()
	st.SetDateTime(ptr(start))
	st.SetTimeZone(ptr("UTC"))
	en := models.NewDateTimeTimeZone()
	en.SetDateTime(ptr(end))
	en.SetTimeZone(ptr("UTC"))
	ev.SetStart(st)
	ev.SetEnd(en)
	p := models.NewSingleValueLegacyExtendedProperty()
	p.SetId(ptr(lessonTag))
	p.SetValue(ptr(tag))
	ev.SetSingleValueExtendedProperties([]models.SingleValueLegacyExtendedPropertyable{p})
	ev.SetIsReminderOn(ptr(true))
	ev.SetReminderMinutesBeforeStart(ptr(int32(15)))
	return ev
}

func TestEventsThroughSDK(t *testing.T) {
	e := newEnv(t, graphsim.Options{})
	c := e.client(eduTenant)
	ctx := ctxT(t)
	ev := lessonEvent("10A English", "L-10AEN-1", "2026-09-09T09:00:00", "2026-09-09T10:00:00")
	ev.SetTransactionId(ptr("sync-run-1/L-10AEN-1"))
	first, err := c.Users().ByUserId(ada).Events().Post(ctx, ev, nil)
	if err != nil {
		t.Fatalf("create event: %v", err)
	}
	again, err := c.Users().ByUserId(ada).Events().Post(ctx, ev, nil)
	if err != nil || *again.GetId() != *first.GetId() {
		t.Errorf("retried create = %v, %v; want the first event back (transactionId)", again, err)
	}
	if *first.GetTransactionId() != "sync-run-1/L-10AEN-1" {
		t.Errorf("transactionId = %v", first.GetTransactionId())
	}
	if _, err := c.Users().ByUserId(ada).Events().Post(ctx, lessonEvent("10A English", "L-10AEN-2", "2026-09-10T09:00:00", "2026-09-10T10:00:00"), nil); err != nil {
		t.Fatal(err)
	}

	found, err := c.Users().ByUserId(ada).Events().Get(ctx, &users.ItemEventsRequestBuilderGetRequestConfiguration{
		QueryParameters: &users.ItemEventsRequestBuilderGetQueryParameters{
			Filter: ptr("singleValueExtendedProperties/Any(ep: ep/id eq '" + lessonTag + "' and ep/value eq 'L-10AEN-2')"),
			Expand: []string{"singleValueExtendedProperties($filter=id eq '" + lessonTag + "')"},
		},
	})
	if err != nil || len(found.GetValue()) != 1 {
		t.Fatalf("filter by tag = %v, %v", found, err)
	}
	if p := found.GetValue()[0].GetSingleValueExtendedProperties(); len(p) != 1 || *p[0].GetValue() != "L-10AEN-2" {
		t.Errorf("expanded tag = %v", p)
	}

	upd := models.NewEvent()
	upd.SetSubject(ptr("10A English (moved)"))
	patched, err := c.Users().ByUserId(ada).Events().ByEventId(*first.GetId()).Patch(ctx, upd, nil)
	if err != nil || *patched.GetSubject() != "10A English (moved)" {
		t.Errorf("patch = %v, %v", patched, err)
	}
	bad := models.NewEvent()
	bad.SetTransactionId(ptr("other"))
	_, err = c.Users().ByUserId(ada).Events().ByEventId(*first.GetId()).Patch(ctx, bad, nil)
	odataErr(t, err, 400, "ErrorInvalidRequest")

	view, err := c.Users().ByUserId(ada).CalendarView().Get(ctx, &users.ItemCalendarViewRequestBuilderGetRequestConfiguration{
		QueryParameters: &users.ItemCalendarViewRequestBuilderGetQueryParameters{StartDateTime: ptr("2026-09-09T00:00:00Z"), EndDateTime: ptr("2026-09-11T00:00:00Z")},
	})
	if err != nil || len(view.GetValue()) != 2 || *view.GetValue()[0].GetSubject() != "10A English (moved)" {
		t.Errorf("calendarView = %v, %v", view, err)
	}
	_, err = c.Users().ByUserId(ada).CalendarView().Get(ctx, nil)
	odataErr(t, err, 400, "ErrorInvalidParameter")

	if err := c.Users().ByUserId(ada).Events().ByEventId(*first.GetId()).Delete(ctx, nil); err != nil {
		t.Fatal(err)
	}
	_, err = c.Users().ByUserId(ada).Events().ByEventId(*first.GetId()).Get(ctx, nil)
	odataErr(t, err, 404, "ErrorItemNotFound")
	_, err = c.Users().ByUserId(sam).Events().Get(ctx, nil)
	odataErr(t, err, 404, "MailboxNotEnabledForRESTAPI")
}
