// Package noderpc is the hot wallet's client for the JSON-RPC interfaces of
// the nodes it reads from and broadcasts to: btcd (Bitcoin, with --txindex
// and --addrindex) and any Ethereum execution client (geth and others).
//
// It is hand-rolled JSON-RPC over net/http + encoding/json on purpose: the
// few calls the wallet needs do not justify go-ethereum's ethclient here
// (go-ethereum stays inside chain/eth) nor btcd's rpcclient (btcd stays
// inside chain/btc), and a small client keeps those boundaries.
//
// Contracts:
//   - Every response body is capped (Client.MaxResponseBytes, default
//     DefaultMaxResponseBytes) before it is parsed; the JSON-RPC envelope
//     must carry the id we sent and either a result or an error, with no
//     trailing data. Fields of results that we do not use are ignored, since
//     node versions add fields freely; the fields we use are checked.
//   - Amounts are integers in base units: satoshis are parsed from the
//     node's decimal BTC text exactly (never through float64), wei and
//     token units from hex quantities into *big.Int.
//   - Errors wrap ErrRPC (transport, HTTP status, envelope), ErrNode (the
//     node answered with a JSON-RPC error; see *NodeError) or ErrResponse
//     (a result we cannot use), always naming the method.
//   - The node is trusted for what it reports about the chain; the signer
//     checks every transaction again (the previous transaction of each
//     Bitcoin input is carried whole, so amounts cannot be faked by the
//     node without the txid changing).
package noderpc
