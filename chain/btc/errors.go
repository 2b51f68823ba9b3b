package btc

import "errors"

var (
	// ErrUnknownNetwork: the network name is not a Bitcoin network Icebox knows.
	ErrUnknownNetwork = errors.New("unknown bitcoin network")
)
