//go:build tools

// Package deps pins modules that packages of this repository are about to
// import, so that parallel work never has to edit go.mod. It is never built.
package deps

import (
	_ "github.com/btcsuite/btcd/btcec/v2"
	_ "github.com/btcsuite/btcd/btcutil"
	_ "github.com/btcsuite/btcd/btcutil/psbt"
	_ "github.com/btcsuite/btcd/txscript"
	_ "github.com/ethereum/go-ethereum/core/types"
	_ "github.com/fxamacker/cbor/v2"
	_ "github.com/makiuchi-d/gozxing"
	_ "github.com/miekg/pkcs11"
	_ "github.com/schollz/progressbar/v3"
	_ "github.com/skip2/go-qrcode"
	_ "github.com/spf13/cobra"
	_ "github.com/spf13/viper"
	_ "go.etcd.io/bbolt"
	_ "golang.org/x/crypto/scrypt"
	_ "golang.org/x/term"
	_ "gopkg.in/yaml.v3"
)
