package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/vsc-labs/vsc/internal/bus"
	"github.com/vsc-labs/vsc/internal/keys"
	proverworker "github.com/vsc-labs/vsc/prover/worker"
	"github.com/vsc-labs/vsc/quorum/member"
)

// initProver runs the ZK prover. In production it runs inside the enclave
// that holds the data key; here it decrypts through the simulated enclave.
func (d *devnet) initProver(ctx context.Context) error {
	w := proverworker.New(proverworker.Config{Keys: d.zkKeys, Open: d.enclave.OpenEnvelope, OpenStream: d.enclave.OpenEnvelopeStream, Log: d.log}, d.workerBus)
	return d.run(ctx, "zk prover", w)
}

// initMembers runs the quorum members (except those --members-offline
// names); --members-lying members vote for a wrong digest.
func (d *devnet) initMembers(ctx context.Context) error {
	dir := filepath.Join(d.cfg.Data, "quorum")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	for i := 1; i <= d.cfg.Quorum; i++ {
		if slices.Contains(d.cfg.MembersOffline, i) {
			d.log.Warn("devnet: member offline (test flag)", "member", i)
			continue
		}
		name := fmt.Sprintf("member-%d", i)
		k := d.key(name)
		b, err := d.connectNATS(name, bus.Config{})
		if err != nil {
			return err
		}
		m, err := member.New(member.Config{Key: k, ChainID: d.cfg.Coordinator.ChainID, DataDir: dir,
			LieDigest: slices.Contains(d.cfg.MembersLying, i), Log: d.log.With("role", "quorum")}, d.chain, b, d.zkKeys)
		if err != nil {
			return err
		}
		if i == 1 { // one member's metrics in the devnet's registry (every member's would collide)
			m.WithMetrics(d.coord.Registry())
		}
		if err := d.run(ctx, name+" "+keys.Address(k).Hex(), member.NewService(m, b, nil)); err != nil {
			return err
		}
	}
	return nil
}
