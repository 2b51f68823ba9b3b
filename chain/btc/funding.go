package btc

import (
	"bytes"
	"crypto/sha256"
	"fmt"

	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"

	"github.com/icebox-custody/icebox/chain"
)

// FundingOutput is one output of a funding transaction.
type FundingOutput struct {
	Address string
	Amount  int64
}

// FundingTx builds a transaction paying outputs from a single made-up input
// (previous outpoint derived from seed). It is for demos and tests that need
// a real, serialisable previous transaction without a node: the signer
// checks NonWitnessUtxo against the outpoint txid, which this satisfies. It
// returns the raw transaction and its txid (display hex).
func FundingTx(n chain.Network, seed string, outputs []FundingOutput) (raw []byte, txid string, err error) {
	tx := wire.NewMsgTx(2)
	prev := chainhash.Hash(sha256.Sum256([]byte("icebox/funding/" + seed)))
	tx.AddTxIn(wire.NewTxIn(wire.NewOutPoint(&prev, 0), []byte{0x51}, nil))
	for i, o := range outputs {
		script, err := addressScript(o.Address, n)
		if err != nil {
			return nil, "", fmt.Errorf("outputs[%d]: %w", i, err)
		}
		tx.AddTxOut(wire.NewTxOut(o.Amount, script))
	}
	var buf bytes.Buffer
	if err := tx.Serialize(&buf); err != nil {
		return nil, "", err
	}
	return buf.Bytes(), tx.TxHash().String(), nil
}
