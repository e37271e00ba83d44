package classplan

import (
	"github.com/rostersync/rostersync/internal/apply"
	"github.com/rostersync/rostersync/internal/plan"
)

// Expand turns a classrooms change into its operations. created is the
// class id the change's create produced (the class's group has the same
// id); ops on a new class wait for it. Enrolments are one $ref each on the
// class (never one Teams member call per pupil). The team is created from
// the educationClass template once the class exists, and its
// teamsAsyncOperation is then polled by its own op, which Awaits the
// create's Location; archive and unarchive are polled the same way.
func Expand(c plan.Change, created string) []apply.Op {
	id := func(suffix string) string { return string(c.Kind) + ":" + c.Key + "#" + suffix }
	pl, err := PayloadOf(c)
	if err != nil {
		return []apply.Op{{ID: id("payload"), Kind: apply.OpCreateClass, Invalid: err.Error()}}
	}
	class := c.TargetID
	var ops []apply.Op
	if c.Action == plan.Create {
		class = created
		ops = append(ops, apply.Op{ID: id("create"), Kind: apply.OpCreateClass, Key: c.After["mailNickname"], TargetID: created,
			Props: map[string]string{"displayName": c.After["displayName"], "mailNickname": c.After["mailNickname"],
				"description": c.After["description"], "externalId": c.Key}})
	}
	on := func(obj string) string {
		if class == "" {
			return ""
		}
		return obj
	}
	for _, t := range pl.AddTeachers {
		// Early: the class's team needs an owner, and with the directory
		// quota metering enrolments the class's turn in plan order can
		// come long after its group has reached Teams.
		ops = append(ops, apply.Op{ID: id("teacher:" + t), Kind: apply.OpAddClassTeacher, Ref: class, TargetID: on(t), Early: true})
	}
	for _, m := range pl.AddMembers {
		ops = append(ops, apply.Op{ID: id("member:" + m), Kind: apply.OpAddClassMember, Ref: class, TargetID: on(m)})
	}
	for _, t := range pl.RemoveTeachers {
		ops = append(ops, apply.Op{ID: id("unteacher:" + t), Kind: apply.OpRemoveClassTeacher, Ref: class, TargetID: t})
	}
	for _, m := range pl.RemoveMembers {
		ops = append(ops, apply.Op{ID: id("unmember:" + m), Kind: apply.OpRemoveClassMember, Ref: class, TargetID: m})
	}
	async := func(name string, kind apply.OpKind) {
		ops = append(ops,
			apply.Op{ID: id(name), Kind: kind, TargetID: class},
			apply.Op{ID: id(name + "-poll"), Kind: apply.OpPollTeamOperation, TargetID: class, Await: id(name)})
	}
	switch {
	case pl.Team:
		async("team", apply.OpCreateClassTeam)
	case pl.Archive:
		async("archive", apply.OpArchiveTeam)
	case pl.Unarchive:
		async("unarchive", apply.OpUnarchiveTeam)
	}
	return ops
}
