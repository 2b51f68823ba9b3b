package eth

import (
	"math/big"

	"github.com/ethereum/go-ethereum/common"
)

// ERC-20 function selectors (first 4 bytes of keccak256 of the signature).
var (
	selTransfer     = [4]byte{0xa9, 0x05, 0x9c, 0xbb} // transfer(address,uint256)
	selApprove      = [4]byte{0x09, 0x5e, 0xa7, 0xb3} // approve(address,uint256)
	selTransferFrom = [4]byte{0x23, 0xb8, 0x72, 0xdd} // transferFrom(address,address,uint256)
)

// tokenCall is a strictly decoded ERC-20 call.
type tokenCall struct {
	method string // "transfer", "approve", "transferFrom"
	owner  common.Address
	to     common.Address // recipient, or spender for approve
	amount *big.Int
}

type abiArg struct {
	name    string
	address bool
}

// decodeERC20 decodes calldata with a known ERC-20 selector. It returns
// (nil, nil) for calldata that does not start with one of the three known
// selectors (a contract call, policy decides). Known selectors must decode
// exactly: static arguments only, 32-byte words, address words zero-padded,
// no trailing bytes — anything else is ErrCalldata.
func decodeERC20(data []byte) (*tokenCall, error) {
	if len(data) < 4 {
		return nil, nil
	}
	var sel [4]byte
	copy(sel[:], data)
	var (
		method string
		args   []abiArg
	)
	switch sel {
	case selTransfer:
		method, args = "transfer", []abiArg{{"recipient", true}, {"amount", false}}
	case selApprove:
		method, args = "approve", []abiArg{{"spender", true}, {"amount", false}}
	case selTransferFrom:
		method, args = "transferFrom", []abiArg{{"sender", true}, {"recipient", true}, {"amount", false}}
	default:
		return nil, nil
	}
	body := data[4:]
	words := make([][]byte, len(args))
	for i, a := range args {
		off := 32 * i
		if len(body) < off+32 {
			have := max(len(body)-off, 0)
			return nil, fieldErr(ErrCalldata, "calldata", "calldata: %s %s is %d bytes, want 32", method, a.name, have)
		}
		w := body[off : off+32]
		if a.address {
			for _, b := range w[:12] {
				if b != 0 {
					return nil, fieldErr(ErrCalldata, "calldata", "calldata: %s %s is not an address (non-zero padding in the top 12 bytes)", method, a.name)
				}
			}
		}
		words[i] = w
	}
	if extra := len(body) - 32*len(args); extra > 0 {
		return nil, fieldErr(ErrCalldata, "calldata", "calldata: %s has %d trailing bytes after its %d arguments", method, extra, len(args))
	}
	call := &tokenCall{method: method, amount: new(big.Int).SetBytes(words[len(words)-1])}
	switch method {
	case "transferFrom":
		call.owner = common.BytesToAddress(words[0])
		call.to = common.BytesToAddress(words[1])
	default:
		call.to = common.BytesToAddress(words[0])
	}
	return call, nil
}

// encodeERC20Transfer builds transfer(to, amount) calldata.
func encodeERC20Transfer(to common.Address, amount *big.Int) []byte {
	out := make([]byte, 4+64)
	copy(out, selTransfer[:])
	copy(out[4+12:], to.Bytes())
	amount.FillBytes(out[4+32:])
	return out
}
