package eth

import (
	"math/big"
)

// Fees prices a transaction built by BuildTransfer / BuildTokenTransfer.
type Fees struct {
	// Legacy selects an EIP-155 legacy transaction priced at GasPrice;
	// otherwise an EIP-1559 transaction with MaxFeePerGas and
	// MaxPriorityFeePerGas (both required).
	Legacy               bool
	GasPrice             *big.Int
	MaxFeePerGas         *big.Int
	MaxPriorityFeePerGas *big.Int
}

// TransferRequest asks for a native ETH transfer.
type TransferRequest struct {
	From  string // one of our addresses
	To    string
	Value *big.Int // wei
	Nonce uint64
	// GasLimit: 0 means 21000.
	GasLimit uint64
	Fees     Fees
}

// TokenTransferRequest asks for an ERC-20 transfer(to, amount) call.
type TokenTransferRequest struct {
	From   string // one of our addresses
	Token  string // the token contract
	To     string // the token recipient
	Amount *big.Int
	Nonce  uint64
	// GasLimit is required (token contracts differ).
	GasLimit uint64
	Fees     Fees
}

// BuildTransfer builds the binary payload (RLP [from, unsignedTx]) of a
// native transfer for the adapter's chain id and checks it with Parse, so a
// payload it returns is one the signer accepts (sender among our keys).
func (a *Adapter) BuildTransfer(req TransferRequest) ([]byte, error) {
	gas := req.GasLimit
	if gas == 0 {
		gas = 21000
	}
	if req.Value == nil {
		return nil, fieldErr(ErrMalformed, "value", "value is required")
	}
	u := UnsignedTx{From: req.From, ChainID: a.chainID.Uint64(), Nonce: req.Nonce, To: req.To, Value: req.Value, GasLimit: gas}
	return a.build(u, req.Fees)
}

// BuildTokenTransfer builds the binary payload of an ERC-20 transfer with
// value 0 and checks it with Parse.
func (a *Adapter) BuildTokenTransfer(req TokenTransferRequest) ([]byte, error) {
	if req.GasLimit == 0 {
		return nil, fieldErr(ErrMalformed, "gasLimit", "gasLimit is required for a token transfer")
	}
	if req.Amount == nil || req.Amount.Sign() < 0 || req.Amount.Cmp(maxUint256) > 0 {
		return nil, fieldErr(ErrMalformed, "amount", "amount is required and must fit in 256 bits")
	}
	to, err := parseAddress("to", req.To)
	if err != nil {
		return nil, err
	}
	u := UnsignedTx{From: req.From, ChainID: a.chainID.Uint64(), Nonce: req.Nonce, To: req.Token,
		Value: new(big.Int), GasLimit: req.GasLimit, Data: encodeERC20Transfer(to, req.Amount)}
	return a.build(u, req.Fees)
}

func (a *Adapter) build(u UnsignedTx, f Fees) ([]byte, error) {
	if f.Legacy {
		u.Type, u.GasPrice = TypeLegacy, f.GasPrice
	} else {
		u.Type, u.MaxFeePerGas, u.MaxPriorityFeePerGas = TypeEIP1559, f.MaxFeePerGas, f.MaxPriorityFeePerGas
	}
	payload, err := EncodeUnsigned(u)
	if err != nil {
		return nil, err
	}
	if _, err := a.ParseTx(payload); err != nil {
		return nil, err
	}
	return payload, nil
}
