package chainlink

import (
	"math/big"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/vsc-labs/vsc/chain/tx"
	"github.com/vsc-labs/vsc/coordinator/store"
	"github.com/vsc-labs/vsc/idao"
	"github.com/vsc-labs/vsc/quorum"
)

// Anchor batches stay under the chain's tx size limit whatever the quorum's
// size (up to the chain's member cap, each vote with the longest batch
// proof), and every certificate goes out exactly once.
func TestAnchorChunksFitATx(t *testing.T) {
	t.Parallel()
	key, _ := crypto.GenerateKey()
	for _, members := range []int{1, 4, 20, 60, idao.DefaultMaxMembers} {
		var certs []*store.Certificate
		for i := range 100 {
			c := &store.Certificate{ID: common.BigToHash(big.NewInt(int64(i + 1))), ResultDigest: crypto.Keccak256Hash([]byte{byte(i)})}
			c.Submission.IDAO, c.Submission.Class, c.Submission.Mode = strings.Repeat("d", 64), "dataset", "tee+zk"
			c.Signature = make([]byte, 65)
			for range members {
				v := quorum.Vote{IDAO: c.Submission.IDAO, Submission: c.ID, ResultDigest: c.ResultDigest, Approve: true,
					Batch: &quorum.BatchProof{Size: quorum.MaxBatch, Index: quorum.MaxBatch - 1, Path: make([]common.Hash, 16)}}
				v.Member, v.Signature = crypto.PubkeyToAddress(key.PublicKey), make([]byte, 65)
				c.Votes = append(c.Votes, v)
			}
			certs = append(certs, c)
		}
		seen := map[int]int{}
		for _, chunk := range anchorChunks(len(certs), func(k int) *store.Certificate { return certs[k] }) {
			cs := make([]*store.Certificate, len(chunk))
			for n, k := range chunk {
				cs[n], seen[k] = certs[k], seen[k]+1
			}
			x, err := tx.New(1, 0, big.NewInt(1), anchorBatch(cs, func(*store.Certificate) uint64 { return 1 << 40 }))
			if err != nil {
				t.Fatal(err)
			}
			x, err = x.Sign(key)
			if err != nil {
				t.Fatal(err)
			}
			if n := len(x.Encode()); n > tx.MaxSize || len(cs) > tx.MaxAnchorBatch {
				t.Fatalf("%d members: a batch of %d items encodes to %d bytes (max %d)", members, len(cs), n, tx.MaxSize)
			}
		}
		for k := range certs {
			if seen[k] != 1 {
				t.Fatalf("%d members: certificate %d sent %d times", members, k, seen[k])
			}
		}
	}
}
