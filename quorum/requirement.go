package quorum

import (
	"fmt"
	"slices"
	"strings"
)

// Op is the kind of a requirement node.
type Op uint8

const (
	// OpInvalid is the zero value; a requirement containing it never passes.
	OpInvalid Op = iota
	// OpGroup needs Threshold approvals from Members.
	OpGroup
	// OpAll needs every child.
	OpAll
	// OpAny needs at least one child.
	OpAny
)

// String returns "group", "all", "any" or "invalid".
func (o Op) String() string {
	switch o {
	case OpGroup:
		return "group"
	case OpAll:
		return "all"
	case OpAny:
		return "any"
	}
	return "invalid"
}

// Node is one node of an approval expression tree.
type Node struct {
	Op Op
	// Group names the group (for display); Members are the officer ids of
	// the group; Threshold is how many of them must approve. OpGroup only.
	Group     string
	Members   []string
	Threshold int
	// Children of OpAll / OpAny.
	Children []Node
}

// Requirement is the quorum a policy rule asks for. The zero value is
// invalid (Verify returns ErrBadRequirement): a requirement always needs at
// least one approval.
type Requirement struct {
	// Expr is the group expression; it may be the zero Node when Required is
	// not empty (then only the named approvers are needed).
	Expr Node
	// Required are officer ids who must each approve, in addition to Expr.
	Required []string
	// Excluded are officer ids whose approvals never count. The requester
	// is always excluded as well, whether listed here or not.
	Excluded []string
}

// Validate reports whether the requirement is well formed and asks for at
// least one approval.
func (r Requirement) Validate() error {
	if r.Expr.Op == OpInvalid && len(r.Expr.Children) == 0 && len(r.Expr.Members) == 0 {
		if len(r.Required) == 0 {
			return fmt.Errorf("%w: no approvals are required", ErrBadRequirement)
		}
		return nil
	}
	return r.Expr.validate("approvals", 0)
}

func (n Node) validate(path string, depth int) error {
	if depth > 16 {
		return fmt.Errorf("%w: %s: nested too deep", ErrBadRequirement, path)
	}
	switch n.Op {
	case OpGroup:
		if n.Threshold < 1 {
			return fmt.Errorf("%w: %s: group %q threshold %d must be at least 1", ErrBadRequirement, path, n.Group, n.Threshold)
		}
		if n.Threshold > len(n.Members) {
			return fmt.Errorf("%w: %s: group %q threshold %d exceeds its %d members", ErrBadRequirement, path, n.Group, n.Threshold, len(n.Members))
		}
		if len(n.Children) != 0 {
			return fmt.Errorf("%w: %s: a group node has no children", ErrBadRequirement, path)
		}
		return nil
	case OpAll, OpAny:
		if len(n.Children) == 0 {
			return fmt.Errorf("%w: %s: %s with no children", ErrBadRequirement, path, n.Op)
		}
		for i, c := range n.Children {
			if err := c.validate(fmt.Sprintf("%s.%s[%d]", path, n.Op, i), depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	return fmt.Errorf("%w: %s: unknown node kind %d", ErrBadRequirement, path, n.Op)
}

// hasExpr reports whether Expr is set (as opposed to the zero Node).
func (r Requirement) hasExpr() bool { return r.Expr.Op != OpInvalid }

// eval reports whether node n is satisfied by the officers in ok and
// appends plain-language descriptions of what is missing.
func (n Node) eval(ok map[string]bool, ineligible func(string) bool, missing *[]string) bool {
	switch n.Op {
	case OpGroup:
		var have, could []string
		for _, m := range n.Members {
			switch {
			case ok[m]:
				have = append(have, m)
			case !ineligible(m):
				could = append(could, m)
			}
		}
		if len(have) >= n.Threshold {
			return true
		}
		need := n.Threshold - len(have)
		if need > len(could) {
			*missing = append(*missing, fmt.Sprintf("group %s needs %d of %d approvals but only %d more eligible officer(s) remain (%s); this request cannot reach quorum in this group",
				n.Group, n.Threshold, len(n.Members), len(could), listOrNone(could)))
		} else {
			*missing = append(*missing, fmt.Sprintf("group %s: %d more approval(s) needed (has %d of %d) from %s",
				n.Group, need, len(have), n.Threshold, strings.Join(could, ", ")))
		}
		return false
	case OpAll:
		all := true
		for _, c := range n.Children {
			if !c.eval(ok, ineligible, missing) {
				all = false
			}
		}
		return all
	case OpAny:
		var sub []string
		for _, c := range n.Children {
			var m []string
			if c.eval(ok, ineligible, &m) {
				return true
			}
			sub = append(sub, strings.Join(m, "; "))
		}
		*missing = append(*missing, "one of: ("+strings.Join(sub, ") or (")+")")
		return false
	}
	*missing = append(*missing, "invalid requirement node")
	return false
}

func listOrNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

// members returns every officer id mentioned by the requirement.
func (r Requirement) members() map[string]bool {
	out := map[string]bool{}
	var walk func(Node)
	walk = func(n Node) {
		for _, m := range n.Members {
			out[m] = true
		}
		for _, c := range n.Children {
			walk(c)
		}
	}
	walk(r.Expr)
	for _, m := range r.Required {
		out[m] = true
	}
	return out
}

// String renders the requirement in plain language, e.g.
// "2 of treasury (alice, bob, carol) AND (1 of risk (dave) OR 1 of compliance (erin)); carol must approve".
func (r Requirement) String() string {
	var parts []string
	if r.hasExpr() {
		parts = append(parts, r.Expr.String())
	}
	if len(r.Required) > 0 {
		parts = append(parts, "named approver(s) who must approve: "+strings.Join(r.Required, ", "))
	}
	if len(r.Excluded) > 0 {
		parts = append(parts, "never counted: "+strings.Join(r.Excluded, ", "))
	}
	if len(parts) == 0 {
		return "(no approvals: invalid)"
	}
	return strings.Join(parts, "; ") + "; the requester's own approval never counts"
}

// String renders one node.
func (n Node) String() string {
	switch n.Op {
	case OpGroup:
		return fmt.Sprintf("%d of %s (%s)", n.Threshold, n.Group, strings.Join(n.Members, ", "))
	case OpAll, OpAny:
		sep := " AND "
		if n.Op == OpAny {
			sep = " OR "
		}
		var s []string
		for _, c := range n.Children {
			t := c.String()
			if c.Op == OpAll || c.Op == OpAny {
				t = "(" + t + ")"
			}
			s = append(s, t)
		}
		return strings.Join(s, sep)
	}
	return "invalid"
}

// Clone returns a deep copy (so callers can never alias a policy's slices).
func (r Requirement) Clone() Requirement {
	return Requirement{Expr: r.Expr.clone(), Required: slices.Clone(r.Required), Excluded: slices.Clone(r.Excluded)}
}

func (n Node) clone() Node {
	c := n
	c.Members = slices.Clone(n.Members)
	if n.Children != nil {
		c.Children = make([]Node, len(n.Children))
		for i, ch := range n.Children {
			c.Children[i] = ch.clone()
		}
	}
	return c
}
