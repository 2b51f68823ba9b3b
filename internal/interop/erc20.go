package main

// A minimal ERC-20 token for the dev chain, assembled by hand (no solc on
// this machine). It implements only what the sweep needs:
//
//	balanceOf(address) → uint256          selector 0x70a08231
//	transfer(address,uint256) → bool      selector 0xa9059cbb, emits Transfer
//
// Storage: the balance of address A lives in storage slot A itself (the
// 20-byte address as a 256-bit slot number); nothing else is stored. The
// supply is fixed: the constructor writes the initial balances and no code
// path mints, so balances cannot overflow. Any other call reverts.

import (
	"encoding/hex"
	"fmt"
	"math/big"
	"strings"
)

// EVM opcodes used below.
const (
	opSTOP         = 0x00
	opADD          = 0x01
	opSUB          = 0x03
	opLT           = 0x10
	opEQ           = 0x14
	opSHR          = 0x1c
	opCALLER       = 0x33
	opCALLDATALOAD = 0x35
	opCODECOPY     = 0x39
	opMSTORE       = 0x52
	opSLOAD        = 0x54
	opSSTORE       = 0x55
	opJUMPI        = 0x57
	opJUMPDEST     = 0x5b
	opPUSH1        = 0x60
	opPUSH2        = 0x61
	opPUSH4        = 0x63
	opPUSH20       = 0x73
	opPUSH32       = 0x7f
	opDUP1         = 0x80
	opDUP2         = 0x81
	opDUP3         = 0x82
	opSWAP1        = 0x90
	opLOG3         = 0xa3
	opRETURN       = 0xf3
	opREVERT       = 0xfd
)

// transferTopic is keccak256("Transfer(address,address,uint256)").
const transferTopic = "ddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"

// Byte offsets of the jump targets in tokenRuntime (checked by a test).
const (
	offBalanceOf = 0x1e
	offTransfer  = 0x2b
	offFail      = 0x7c
)

// tokenRuntime is the deployed code. Stack comments show the stack after
// each line, top on the right.
var tokenRuntime = mustHex(
	// 0x00 dispatcher: selector = calldata[0:4]
	"6000" + "35" + "60e0" + "1c" + //      PUSH1 0 CALLDATALOAD PUSH1 224 SHR   ; sel
		"80" + "6370a08231" + "14" + //        DUP1 PUSH4 balanceOf EQ               ; sel (sel==balanceOf)
		"601e" + "57" + //                     PUSH1 offBalanceOf JUMPI              ; sel
		"80" + "63a9059cbb" + "14" + //        DUP1 PUSH4 transfer EQ                ; sel (sel==transfer)
		"602b" + "57" + //                     PUSH1 offTransfer JUMPI               ; sel
		"6000" + "80" + "fd" + //              PUSH1 0 DUP1 REVERT                   ; unknown selector
		// 0x1e balanceOf(owner): return sload(owner)
		"5b" + //                              JUMPDEST
		"6004" + "35" + "54" + //              PUSH1 4 CALLDATALOAD SLOAD            ; bal
		"6000" + "52" + //                     PUSH1 0 MSTORE                        ; mem[0]=bal
		"6020" + "6000" + "f3" + //            PUSH1 32 PUSH1 0 RETURN
		// 0x2b transfer(to, amount)
		"5b" + //                              JUMPDEST
		"6024" + "35" + //                     PUSH1 36 CALLDATALOAD                 ; amt
		"33" + "54" + //                       CALLER SLOAD                          ; amt bal
		"81" + "81" + //                       DUP2 DUP2                             ; amt bal amt bal
		"10" + //                              LT                                    ; amt bal (bal<amt)
		"607c" + "57" + //                     PUSH1 offFail JUMPI                   ; amt bal
		"81" + "90" + "03" + //                DUP2 SWAP1 SUB                        ; amt (bal-amt)
		"33" + "55" + //                       CALLER SSTORE                         ; amt   (sender balance)
		"6004" + "35" + //                     PUSH1 4 CALLDATALOAD                  ; amt to
		"80" + "54" + //                       DUP1 SLOAD                            ; amt to tobal
		"82" + "01" + //                       DUP3 ADD                              ; amt to (tobal+amt)
		"90" + "55" + //                       SWAP1 SSTORE                          ; amt   (recipient balance)
		"6000" + "52" + //                     PUSH1 0 MSTORE                        ; -     mem[0]=amt
		"6004" + "35" + //                     PUSH1 4 CALLDATALOAD                  ; to
		"33" + //                              CALLER                                ; to from
		"7f" + transferTopic + //              PUSH32 Transfer topic                 ; to from topic
		"6020" + "6000" + //                   PUSH1 32 PUSH1 0                      ; to from topic 32 0
		"a3" + //                              LOG3(mem[0:32], topic, from, to)      ; -
		"6001" + "6000" + "52" + //            PUSH1 1 PUSH1 0 MSTORE                ; mem[0]=true
		"6020" + "6000" + "f3" + //            PUSH1 32 PUSH1 0 RETURN
		// 0x7c fail: insufficient balance
		"5b" + //                              JUMPDEST
		"6000" + "80" + "fd") //               PUSH1 0 DUP1 REVERT

// Holding is one initial token balance.
type Holding struct {
	Address string // 0x-prefixed 20-byte address
	Amount  *big.Int
}

// tokenInitCode is the contract creation code: for each holding
// "PUSH32 amount PUSH20 address SSTORE", then copy the runtime code to
// memory and return it:
//
//	PUSH2 len DUP1 PUSH2 offset PUSH1 0 CODECOPY   ; len   mem[0:len]=runtime
//	PUSH1 0 RETURN                                 ; return mem[0:len]
func tokenInitCode(holdings []Holding) ([]byte, error) {
	var code []byte
	for i, h := range holdings {
		a, err := hex.DecodeString(strings.TrimPrefix(h.Address, "0x"))
		if err != nil || len(a) != 20 {
			return nil, fmt.Errorf("holdings[%d].address %q: not a 20-byte hex address", i, h.Address)
		}
		if h.Amount == nil || h.Amount.Sign() < 0 || h.Amount.BitLen() > 256 {
			return nil, fmt.Errorf("holdings[%d].amount: want 0 ≤ amount < 2^256", i)
		}
		code = append(code, opPUSH32)
		code = append(code, h.Amount.FillBytes(make([]byte, 32))...)
		code = append(code, opPUSH20)
		code = append(code, a...)
		code = append(code, opSSTORE)
	}
	const tail = 13 // the copy-and-return sequence below
	off := len(code) + tail
	n := len(tokenRuntime)
	code = append(code, opPUSH2, byte(n>>8), byte(n), opDUP1, opPUSH2, byte(off>>8), byte(off), opPUSH1, 0, opCODECOPY,
		opPUSH1, 0, opRETURN)
	if len(code) != off {
		return nil, fmt.Errorf("init code layout: tail is %d bytes, want %d", len(code)-off+tail, tail)
	}
	return append(code, tokenRuntime...), nil
}

// erc20TransferData is the calldata of transfer(to, amount).
func erc20TransferData(to string, amount *big.Int) string {
	return "0xa9059cbb" + strings.Repeat("0", 24) + strings.ToLower(strings.TrimPrefix(to, "0x")) +
		hex.EncodeToString(amount.FillBytes(make([]byte, 32)))
}

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

var _ = opSTOP
