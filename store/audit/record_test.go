package audit_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/icebox-custody/icebox/store/audit"
)

// TestRecordHoldsLargestBatch: a signed record listing the ids of the
// largest batch a request may carry (20,000 Ethereum transactions) is valid;
// one line over MaxRecordBytes is not.
func TestRecordHoldsLargestBatch(t *testing.T) {
	ids := make([]string, 20000)
	for i := range ids {
		ids[i] = fmt.Sprintf("0x%064x", i)
	}
	rec := audit.Record{Seq: 2, Time: time.Unix(1, 0), Kind: audit.KindSigned, RequestID: "big", Decision: "signed", TxIDs: ids}
	if err := rec.Validate(); err != nil {
		t.Fatalf("ok_20000_tx_ids: %v", err)
	}
	rec.Detail = strings.Repeat("x", audit.MaxRecordBytes)
	if err := rec.Validate(); !errors.Is(err, audit.ErrInvalidRecord) {
		t.Fatalf("expfail_over_cap: got %v, want ErrInvalidRecord", err)
	}
}
