package store

import (
	"encoding/hex"

	bolt "go.etcd.io/bbolt"
)

// LedgerSnapshot returns the consumes and charges buckets as key (hex) ->
// value, for property tests.
func (s *Store) LedgerSnapshot() (map[string]string, error) {
	out := map[string]string{}
	err := s.view(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketConsumes, bucketCharges} {
			err := tx.Bucket(b).ForEach(func(k, v []byte) error {
				out[string(b)+"/"+hex.EncodeToString(k)] = string(v)
				return nil
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	return out, err
}
