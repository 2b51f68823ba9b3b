package policy

import (
	"math/big"
	"sort"
	"time"

	"github.com/icebox-custody/icebox/bundle"
	"github.com/icebox-custody/icebox/chain"
	"github.com/icebox-custody/icebox/quorum"
)

// MaxPolicySize caps a policy file before it is parsed.
const MaxPolicySize = 256 << 10

// Hash is the policy hash: SHA-256("icebox/policy/v1" || 0x00 || data),
// over the exact file bytes. Approvals and responses carry it.
func Hash(data []byte) bundle.Digest { return quorum.ContentHash(quorum.ChangePolicy, data) }

// Kind is what a transaction does in policy terms.
type Kind string

// Kinds a rule can match. Withdrawal, sweep and consolidation come from the
// request kind; contract-call and token-approve from the decoded transaction.
const (
	KindWithdrawal    Kind = "withdrawal"
	KindSweep         Kind = "sweep"
	KindConsolidation Kind = "consolidation"
	KindContractCall  Kind = "contract-call"
	KindTokenApprove  Kind = "token-approve"
)

// Special destination names usable in match.destination.
const (
	DestAny       = "any"
	DestOwnCold   = "own-cold"
	DestHotWallet = "hot-wallet"
)

// Action is what a matched rule does.
type Action string

// Actions.
const (
	ActionAllow Action = "allow"
	ActionDeny  Action = "deny"
)

// Scope says what a velocity limit is aggregated per.
type Scope string

// Velocity scopes.
const (
	PerRule        Scope = "rule"
	PerSource      Scope = "source"
	PerDestination Scope = "destination"
	PerRequester   Scope = "requester"
)

// Token declares an ERC-20 token so amounts can be written in its unit.
type Token struct {
	Asset    chain.Asset // erc20:0x<contract>
	Decimals int
}

// Policy is a parsed, validated policy. Treat it as immutable.
type Policy struct {
	Version     int
	Name        string
	Description string
	Tokens      map[string]Token    // symbol → token
	KeyGroups   map[string][]string // name → key labels, "#<hex id>", "label#hexid" or addresses
	Allowlists  map[string][]string // name → normalised addresses
	HotWallet   []string            // normalised addresses matched by "hot-wallet"
	Approvers   map[string][]string // approver group → officer ids
	Requesters  map[string][]string // requester group → requester ids
	Rules       []Rule
	hash        bundle.Digest
}

// Hash returns the hash of the bytes the policy was parsed from.
func (p *Policy) Hash() bundle.Digest { return p.hash }

// Rule is one ordered rule.
type Rule struct {
	Name        string
	Description string
	Match       Match
	Limits      Limits
	Time        *TimeRule // nil: any time
	Action      Action
	// Reason is the stated reason of a deny rule.
	Reason string
	// Approvals is the quorum an allow rule requires.
	Approvals quorum.Requirement
	// AllowFeeBump (allow rules on Bitcoin networks only): a request this
	// rule allows may re-spend outpoints held by an earlier signed request
	// of ours (a replace-by-fee bump). The signer adds its own checks.
	AllowFeeBump bool
}

// Match selects the batches a rule applies to. A nil/empty field matches
// anything.
type Match struct {
	Networks        []chain.Network
	Asset           chain.Asset // "" = any asset (then the rule has no amount limits)
	Kinds           []Kind
	Sources         []string // key group names, or "any"
	Destinations    []string // allowlist names, own-cold, hot-wallet or any
	Requesters      []string // requester ids
	RequesterGroups []string // requester group names
	// AmountMin/AmountMax bound the batch total of Asset (inclusive); nil = open.
	AmountMin, AmountMax *big.Int
}

// Velocity is one rolling-window limit.
type Velocity struct {
	Per    Scope
	Window time.Duration
	Max    *big.Int
}

// Limits of an allow rule; nil / zero means no limit of that kind.
type Limits struct {
	PerTx, PerBatch *big.Int
	Velocity        []Velocity
	Lifetime        *big.Int // on the rule counter, all time
	MinInterval     time.Duration
	MaxFee          *big.Int // per transaction, native base units
	// MaxFeeRate: Bitcoin milli-sat per vB (as chain.Summary.FeeRate);
	// Ethereum wei per gas (max fee per gas).
	MaxFeeRate *big.Int
	// MaxFeePercent: fee as a percentage of the amount sent, per transaction.
	MaxFeePercent                          *big.Rat
	MaxInputs, MaxOutputs, MaxTransactions int
}

// TimeRule restricts when a rule allows signing.
type TimeRule struct {
	Zone     string
	Loc      *time.Location
	Windows  []Window // empty: any time of any day (subject to Blackout)
	Blackout []string // dates "2006-01-02" in Zone
}

// Window is one allowed weekly window in the rule's zone: [From, To)
// minutes after local midnight on the listed days.
type Window struct {
	Days     [7]bool // indexed by time.Weekday
	From, To int
}

func sortStrings(s []string) { sort.Strings(s) }
