package userplan

import (
	"github.com/rostersync/rostersync/internal/apply"
	"github.com/rostersync/rostersync/internal/plan"
)

// Expand turns a users change into its operations. created is the account
// id the change's create produced; the licence and group ops of a new
// account carry it once known. A change whose payload this build cannot
// read becomes one invalid op, which fails the change with the reason.
func Expand(c plan.Change, created string) []apply.Op {
	pl, err := PayloadOf(c)
	if err != nil {
		return []apply.Op{{ID: string(c.Kind) + ":" + c.Key + "#payload", Kind: apply.OpPatchUser, Invalid: err.Error()}}
	}
	target := c.TargetID
	if c.Action == plan.Create {
		target = created
	}
	id := func(suffix string) string { return string(c.Kind) + ":" + c.Key + "#" + suffix }
	idOf := func(what, x string) string { return string(c.Kind) + ":" + c.Key + "#" + what + ":" + x }
	var ops []apply.Op
	switch c.Action {
	case plan.Create:
		upn := c.After["userPrincipalName"]
		ops = make([]apply.Op, 0, 1+len(pl.Licenses)+len(pl.Groups))
		ops = append(ops, apply.Op{ID: id("create"), Kind: apply.OpCreateUser, Key: upn, Props: c.After, TargetID: target, SecretKind: pl.Password})
		for _, sku := range pl.Licenses {
			ops = append(ops, apply.Op{ID: idOf("license", sku), Kind: apply.OpAssignLicense, Props: map[string]string{"skuId": sku}, TargetID: target})
		}
		for _, g := range pl.Groups {
			ops = append(ops, apply.Op{ID: idOf("group", g), Kind: apply.OpAddMember, Ref: g, TargetID: target})
		}
	case plan.Update, plan.Link:
		if len(c.After) > 0 {
			ops = append(ops, apply.Op{ID: id("patch"), Kind: apply.OpPatchUser, Props: c.After, TargetID: target})
		}
	case plan.Suspend:
		ops = append(ops, apply.Op{ID: id("disable"), Kind: apply.OpPatchUser, Props: map[string]string{"accountEnabled": "false"}, TargetID: target},
			apply.Op{ID: id("revoke"), Kind: apply.OpRevokeSessions, TargetID: target})
	case plan.Reactivate:
		props := map[string]string{}
		for k, v := range c.After {
			props[k] = v
		}
		props["accountEnabled"] = "true"
		ops = append(ops, apply.Op{ID: id("enable"), Kind: apply.OpPatchUser, Props: props, TargetID: target})
	}
	return ops
}
