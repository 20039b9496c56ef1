package bench

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum/crypto"
	"github.com/nats-io/nats-server/v2/server"

	"github.com/vsc-labs/vsc/internal/bus"
	"github.com/vsc-labs/vsc/internal/envelope"
	"github.com/vsc-labs/vsc/internal/natsembed"
	"github.com/vsc-labs/vsc/internal/records"
	"github.com/vsc-labs/vsc/internal/service"
	"github.com/vsc-labs/vsc/internal/submission"
	"github.com/vsc-labs/vsc/internal/work"
	"github.com/vsc-labs/vsc/prover"
	zkworker "github.com/vsc-labs/vsc/prover/worker"
	"github.com/vsc-labs/vsc/tee"
)

// poolChainID is the chain id of the pool run's jobs (nothing is anchored).
const poolChainID = 1

// provePool runs the dataset through the real prover pool path: sealed
// blob in the object store, one JetStream job per chunk, one worker (so its
// proofs run one at a time, like the direct run), results gathered into
// evidence and verified.
func provePool(ctx context.Context, km *prover.KeyManager, ds *records.Dataset, chunk int, res *ProveResult) error {
	var l service.List
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = l.Stop(sctx)
	}()
	b, srv, creds, err := poolBus(ctx, &l)
	if err != nil {
		return err
	}
	enclave, err := crypto.GenerateKey()
	if err != nil {
		return err
	}
	sub, jobs, err := poolJobs(ctx, b, ds, chunk, enclave)
	if err != nil {
		return err
	}
	pb, err := bus.ConnectInProcess(srv, creds["prover"], bus.Config{Concurrency: 1, Signer: tee.KeySigner{Key: enclave}}, nil)
	if err != nil {
		return err
	}
	l.Add("prover NATS connection", service.Closer(pb.Close))
	if err := l.Run(ctx, "zk prover", zkworker.New(zkworker.Config{Keys: km, EnclaveKey: enclave}, pb)); err != nil {
		return err
	}
	results := make(chan work.Result)
	if err := l.Run(ctx, "result consumer", &service.Loop{Run: func(ctx context.Context) error {
		return b.Results(ctx, func(ctx context.Context, r work.Result) error {
			select {
			case results <- r:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
	}}); err != nil {
		return err
	}
	start := time.Now()
	if err := errors.Join(b.PublishJobs(ctx, jobs)...); err != nil {
		return err
	}
	if err := gatherPool(ctx, b, km, results, len(jobs), sub, res); err != nil {
		return err
	}
	res.PoolMS = time.Since(start).Milliseconds()
	res.PoolOverheadPct = float64(res.PoolMS-res.PoolProveMS) / float64(max(res.PoolProveMS, 1)) * 100
	return nil
}

// poolBus starts an embedded NATS with a coordinator and a prover user and
// connects as the coordinator, recording both in l.
func poolBus(ctx context.Context, l *service.List) (*bus.Bus, *server.Server, map[string]*bus.Credentials, error) {
	dir, err := os.MkdirTemp("", "vsc-bench-pool-*")
	if err != nil {
		return nil, nil, nil, err
	}
	l.Add("temporary dir", service.Closer(func() { os.RemoveAll(dir) }))
	srv, creds, err := natsembed.Start(natsembed.Options{StoreDir: dir}, "", []natsembed.User{
		{Name: "coordinator", Roles: []bus.Role{bus.RoleCoordinator}}, {Name: "prover", Roles: []bus.Role{bus.RoleZK}}})
	if err != nil {
		return nil, nil, nil, err
	}
	l.Add("embedded NATS", service.Closer(srv.Shutdown))
	b, err := bus.ConnectInProcess(srv, creds["coordinator"], bus.Config{Concurrency: 1}, nil)
	if err != nil {
		return nil, nil, nil, err
	}
	l.Add("NATS connection", service.Closer(b.Close))
	return b, srv, creds, b.Ensure(ctx)
}

// poolJobs seals the dataset to the enclave key, uploads the blob and
// returns the signed submission and one zk job per chunk.
func poolJobs(ctx context.Context, b *bus.Bus, ds *records.Dataset, chunk int, enclave *ecdsa.PrivateKey) (*submission.Submission, []*work.Job, error) {
	contributor, err := crypto.GenerateKey()
	if err != nil {
		return nil, nil, err
	}
	sealed, err := envelope.Seal(csvOf(ds), &enclave.PublicKey)
	if err != nil {
		return nil, nil, err
	}
	sub := submission.Submission{IDAO: "bench", Mode: "zk", Class: "dataset", Contributor: crypto.PubkeyToAddress(contributor.PublicKey),
		DataHash: sealed.DataHash, Commitment: records.Commitment(ds), Records: uint64(ds.Len()), Fields: uint32(len(ds.Fields)), WrappedKeyHash: sealed.WrappedKeyHash(), Nonce: 1}
	sig, err := sub.Sign(poolChainID, contributor)
	if err != nil {
		return nil, nil, err
	}
	if err := b.PutBlob(ctx, sealed.DataHash, sealed.Blob); err != nil {
		return nil, nil, err
	}
	id := sub.Digest(poolChainID)
	n := prover.Chunks(ds.Len(), chunk)
	jobs := make([]*work.Job, n)
	for i := range jobs {
		jobs[i] = &work.Job{ID: "bench-" + id.Hex()[2:14], Kind: zkworker.Kind, ChainID: poolChainID, SubmissionID: id, Submission: sub,
			Signature: sig, WrappedKey: sealed.WrappedKey, Chunk: i, Chunks: n, ChunkSize: chunk}
	}
	return &sub, jobs, nil
}

// csvOf is ds as CSV with a header.
func csvOf(ds *records.Dataset) []byte {
	var csv bytes.Buffer
	csv.WriteString(strings.Join(ds.Fields, ",") + "\n")
	for _, r := range ds.Records {
		for i, v := range r {
			if i > 0 {
				csv.WriteByte(',')
			}
			csv.WriteString(strconv.FormatInt(v, 10))
		}
		csv.WriteByte('\n')
	}
	return csv.Bytes()
}

// gatherPool waits for a result per chunk, gathers the proofs into
// evidence and verifies it against the submission.
func gatherPool(ctx context.Context, b *bus.Bus, km *prover.KeyManager, results <-chan work.Result, n int, sub *submission.Submission, res *ProveResult) error {
	refs := map[int]prover.ChunkRef{}
	for len(refs) < n {
		select {
		case r := <-results:
			if !r.OK {
				return fmt.Errorf("chunk %d: %s", r.Chunk, r.Reason)
			}
			var ref prover.ChunkRef
			if err := json.Unmarshal(r.Evidence, &ref); err != nil {
				return err
			}
			if _, dup := refs[ref.Index]; !dup {
				res.PoolProveMS += ref.ProveMS
			}
			refs[ref.Index] = ref
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	var list []prover.ChunkRef
	for _, r := range refs {
		list = append(list, r)
	}
	fetch := func(ctx context.Context, bucket, name string) ([]byte, error) {
		return b.GetObject(ctx, bucket, name, bus.MaxProofMsg)
	}
	ev, err := prover.GatherEvidence(ctx, list, fetch)
	if err != nil {
		return err
	}
	vk, err := km.VerifyingKey(ev.VKHash)
	if err != nil {
		return err
	}
	_, err = prover.VerifyEvidence(vk, ev, sub)
	return err
}
