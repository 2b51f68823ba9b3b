package quorum

import (
	"crypto/sha256"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/icebox-custody/icebox/bundle"
	"github.com/icebox-custody/icebox/quorum/yamlstrict"
	"github.com/icebox-custody/icebox/sigkey"
)

// MaxRosterSize caps a roster file before it is parsed.
const MaxRosterSize = 256 << 10

// MaxMembers caps the number of roster entries.
const MaxMembers = 1000

// Role is what a roster member may do.
type Role string

// Roles.
const (
	// RoleOfficer approves requests.
	RoleOfficer Role = "officer"
	// RoleRequester signs requests (a hot wallet or an operator).
	RoleRequester Role = "requester"
	// RoleAdmin signs policy and roster changes.
	RoleAdmin Role = "admin"
)

// Member is one roster entry.
type Member struct {
	ID   string
	Name string // optional display name
	Key  sigkey.PublicKey
	// Roles are distinct and sorted.
	Roles []Role
	// NotBefore / NotAfter bound when the entry is valid; the zero time
	// means unbounded on that side.
	NotBefore, NotAfter time.Time
	Revoked             bool
}

// HasRole reports whether m has role r.
func (m Member) HasRole(r Role) bool { return slices.Contains(m.Roles, r) }

// validAt returns "" when m is valid at now, else why not.
func (m Member) validAt(now time.Time) (code ReasonCode, detail string) {
	if !m.NotBefore.IsZero() && now.Before(m.NotBefore) {
		return ReasonNotYetValid, fmt.Sprintf("roster entry %s is valid only from %s", m.ID, m.NotBefore.UTC().Format(time.RFC3339))
	}
	if !m.NotAfter.IsZero() && now.After(m.NotAfter) {
		return ReasonMemberExpired, fmt.Sprintf("roster entry %s expired at %s", m.ID, m.NotAfter.UTC().Format(time.RFC3339))
	}
	return "", ""
}

// Roster is a parsed, validated roster. It is immutable after parsing.
type Roster struct {
	// Version is the schema version (1).
	Version int
	// AdminQuorum is how many distinct valid admins must sign a change.
	AdminQuorum int
	// ChangeDelay is the minimum time between approving a change and its
	// activation (zero: a change may activate at once).
	ChangeDelay time.Duration
	members     []Member
	byID        map[string]int
	hash        bundle.Digest
}

// Members returns a copy of the roster entries in file order.
func (r *Roster) Members() []Member {
	out := make([]Member, len(r.members))
	for i, m := range r.members {
		out[i] = m
		out[i].Roles = slices.Clone(m.Roles)
		out[i].Key.Key = slices.Clone(m.Key.Key)
	}
	return out
}

// Member returns the entry with id.
func (r *Roster) Member(id string) (Member, bool) {
	i, ok := r.byID[id]
	if !ok {
		return Member{}, false
	}
	return r.members[i], true
}

// Hash returns the roster hash of the exact bytes it was parsed from.
func (r *Roster) Hash() bundle.Digest { return r.hash }

// RosterHash is SHA-256("icebox/roster/v1" || 0x00 || data).
func RosterHash(data []byte) bundle.Digest { return ContentHash(ChangeRoster, data) }

var idPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)

// ValidID reports whether s is an acceptable roster id: 1–64 characters of
// lower-case letters, digits, '.', '_' and '-', starting with a letter or digit.
func ValidID(s string) bool { return idPattern.MatchString(s) }

// ParseRoster parses and validates a roster file. file names the file in
// errors. Every error wraps ErrBadRoster and, for positioned errors, is a
// *yamlstrict.Error naming the line and the field.
func ParseRoster(file string, data []byte) (*Roster, error) {
	r, err := parseRoster(file, data)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadRoster, err)
	}
	return r, nil
}

func parseRoster(file string, data []byte) (*Roster, error) {
	d := yamlstrict.D{File: file}
	root, err := d.Parse(data, MaxRosterSize)
	if err != nil {
		return nil, err
	}
	top, err := d.Mapping(root, "", []string{"version", "admin_quorum", "change_delay", "members"}, []string{"version", "admin_quorum", "members"})
	if err != nil {
		return nil, err
	}
	r := &Roster{byID: map[string]int{}, hash: RosterHash(data)}
	v, err := d.Int(top.Get("version"), "version", 1, 1)
	if err != nil {
		return nil, err
	}
	r.Version = int(v)
	q, err := d.Int(top.Get("admin_quorum"), "admin_quorum", 1, MaxMembers)
	if err != nil {
		return nil, err
	}
	r.AdminQuorum = int(q)
	if n := top.Get("change_delay"); n != nil {
		s, err := d.String(n, "change_delay")
		if err != nil {
			return nil, err
		}
		dur, err := ParseDuration(s)
		if err != nil || dur < 0 {
			return nil, d.Errf(n, "change_delay", "not a duration like 24h, 90m or 7d: %q", s)
		}
		r.ChangeDelay = dur
	}
	items, err := d.Seq(top.Get("members"), "members", MaxMembers)
	if err != nil {
		return nil, err
	}
	keys := map[string]string{}
	for i, it := range items {
		f := yamlstrict.Index("members", i)
		m, err := parseMember(d, it, f)
		if err != nil {
			return nil, err
		}
		if j, dup := r.byID[m.ID]; dup {
			return nil, d.Errf(it, f+".id", "id %q is already used by members[%d]", m.ID, j)
		}
		ks := m.Key.String()
		if other, dup := keys[ks]; dup {
			return nil, d.Errf(it, f+".key", "this key already belongs to %q; one key, one person", other)
		}
		keys[ks] = m.ID
		r.byID[m.ID] = len(r.members)
		r.members = append(r.members, m)
	}
	admins := 0
	for _, m := range r.members {
		if m.HasRole(RoleAdmin) && !m.Revoked {
			admins++
		}
	}
	if admins < r.AdminQuorum {
		return nil, d.Errf(top.Get("admin_quorum"), "admin_quorum", "needs %d admins but the roster has only %d non-revoked admin(s): no change could ever be approved", r.AdminQuorum, admins)
	}
	return r, nil
}

func parseMember(d yamlstrict.D, n *yaml.Node, f string) (Member, error) {
	mm, err := d.Mapping(n, f, []string{"id", "name", "key", "roles", "not_before", "not_after", "revoked"}, []string{"id", "key", "roles"})
	if err != nil {
		return Member{}, err
	}
	var m Member
	if m.ID, err = d.String(mm.Get("id"), mm.Sub("id")); err != nil {
		return Member{}, err
	}
	if !ValidID(m.ID) {
		return Member{}, d.Errf(mm.Get("id"), mm.Sub("id"), "%q is not a valid id (1-64 of a-z 0-9 . _ -, starting with a letter or digit)", m.ID)
	}
	if nn := mm.Get("name"); nn != nil {
		if m.Name, err = d.String(nn, mm.Sub("name")); err != nil {
			return Member{}, err
		}
	}
	ks, err := d.String(mm.Get("key"), mm.Sub("key"))
	if err != nil {
		return Member{}, err
	}
	if m.Key, err = sigkey.ParsePublicKey(ks); err != nil {
		return Member{}, d.Errf(mm.Get("key"), mm.Sub("key"), "%v (want ed25519:<64 hex> or p256:<66 hex, compressed>)", err)
	}
	roles, err := d.Strings(mm.Get("roles"), mm.Sub("roles"), 3)
	if err != nil {
		return Member{}, err
	}
	for i, s := range roles {
		switch Role(s) {
		case RoleOfficer, RoleRequester, RoleAdmin:
			m.Roles = append(m.Roles, Role(s))
		default:
			return Member{}, d.Errf(mm.Get("roles").Content[i], yamlstrict.Index(mm.Sub("roles"), i), "unknown role %q (want officer, requester or admin)", s)
		}
	}
	slices.Sort(m.Roles)
	for _, k := range []string{"not_before", "not_after"} {
		nn := mm.Get(k)
		if nn == nil {
			continue
		}
		s, err := d.String(nn, mm.Sub(k))
		if err != nil {
			return Member{}, err
		}
		t, err := parseTime(s)
		if err != nil {
			return Member{}, d.Errf(nn, mm.Sub(k), "%q is not an RFC 3339 time (2026-01-31T00:00:00Z) or a date (2026-01-31, UTC midnight)", s)
		}
		if k == "not_before" {
			m.NotBefore = t
		} else {
			m.NotAfter = t
		}
	}
	if !m.NotBefore.IsZero() && !m.NotAfter.IsZero() && !m.NotBefore.Before(m.NotAfter) {
		return Member{}, d.Errf(mm.Get("not_after"), mm.Sub("not_after"), "not_after must be later than not_before")
	}
	if nn := mm.Get("revoked"); nn != nil {
		if m.Revoked, err = d.Bool(nn, mm.Sub("revoked")); err != nil {
			return Member{}, err
		}
	}
	return m, nil
}

func parseTime(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	return time.Parse("2006-01-02", s)
}

// ParseDuration accepts Go durations (90m, 24h, 1h30m) and whole days ("7d").
func ParseDuration(s string) (time.Duration, error) {
	if strings.HasSuffix(s, "d") && yamlstrict.IsDecimalDigits(strings.TrimSuffix(s, "d")) {
		var n int64
		if _, err := fmt.Sscan(strings.TrimSuffix(s, "d"), &n); err != nil || n > 100000 {
			return 0, fmt.Errorf("bad day count %q", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	return time.ParseDuration(s)
}

// contentHash is SHA-256(domain || 0x00 || data).
func contentHash(domain string, data []byte) bundle.Digest {
	h := sha256.New()
	h.Write([]byte(domain))
	h.Write([]byte{0})
	h.Write(data)
	var d bundle.Digest
	copy(d[:], h.Sum(nil))
	return d
}
