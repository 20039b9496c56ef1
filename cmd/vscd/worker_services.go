package main

import (
	"context"
	"crypto/ecdsa"
	"fmt"
	"log/slog"

	"github.com/ethereum/go-ethereum/common"

	"github.com/vsc-labs/vsc/chain"
	"github.com/vsc-labs/vsc/chain/proof"
	"github.com/vsc-labs/vsc/chain/tx"
	"github.com/vsc-labs/vsc/coordinator/client"
	"github.com/vsc-labs/vsc/internal/bus"
	"github.com/vsc-labs/vsc/internal/cli"
	"github.com/vsc-labs/vsc/internal/codes"
	"github.com/vsc-labs/vsc/internal/keys"
	"github.com/vsc-labs/vsc/internal/service"
	"github.com/vsc-labs/vsc/tee"
	"github.com/vsc-labs/vsc/tee/provider"
)

// startServe runs the data-service provider (`vscd worker --serve`): the
// worker's enclave, registered on chain as a provider of --idao under the
// --provider-key account, answering query jobs over its own NATS
// connection (a user with the provider role) and settling through the
// chain's HTTP API.
func startServe(ctx context.Context, l *service.List, enc *tee.Enclave, cfg workerConfig, log *slog.Logger) error {
	key, err := keys.Load(cfg.ProviderKey)
	if err != nil {
		return fmt.Errorf("--provider-key: %w", err)
	}
	fee, ok1 := chain.ParseAmount(cfg.ServeFee)
	stake, ok2 := chain.ParseAmount(cfg.ServeStake)
	if !ok1 || !ok2 {
		return cli.Usagef("--fee and --stake are non-negative integers of base units")
	}
	c := client.New(cfg.Chain)
	c.Trust.Sequencer = common.HexToAddress(cfg.ServeSequencer)
	info, err := c.ChainInfo(ctx)
	if err != nil {
		return fmt.Errorf("--chain %s: %w", cfg.Chain, err)
	}
	opts := *cfg.NATS
	if cfg.ServeNATSCreds != "" {
		opts.Creds = cfg.ServeNATSCreds
	}
	b, err := bus.Connect(opts, bus.Config{}, log)
	if err != nil {
		return err
	}
	l.Add("provider NATS connection", service.Closer(b.Close))
	p := provider.New(provider.Config{ChainID: info.ChainID, IDAO: cfg.ServeIDAO, Account: keys.Address(key), Fee: fee, Stake: stake},
		enc, b, &clientSender{c: c, key: key}, log)
	return l.Run(ctx, "data-service provider "+keys.Address(key).Hex(), p)
}

// clientSender is a provider's link to the chain's HTTP API.
type clientSender struct {
	c   *client.Client
	key *ecdsa.PrivateKey
}

func (s *clientSender) Registered(ctx context.Context, a common.Address) (bool, error) {
	_, err := s.c.Provider(ctx, a)
	if client.IsCode(err, codes.NotFound) {
		return false, nil
	}
	return err == nil, err
}

// Terms reads the class and its iDAO from chain state proven under the
// trusted sequencer's signed header: the coordinator that routed the job is
// not believed on either.
func (s *clientSender) Terms(ctx context.Context, class common.Hash) (*provider.Terms, error) {
	p, err := s.c.DATClassProof(ctx, class)
	if err != nil {
		return nil, fmt.Errorf("read the proof of DAT class %s: %w", class.Hex(), err)
	}
	c, _, err := proof.VerifyClassState(p, class, s.c.Trust.Sequencer)
	if err != nil {
		return nil, err
	}
	if c == nil {
		return nil, nil
	}
	v, err := s.c.ProvenIDAO(ctx, c.IDAO, nil)
	if err != nil {
		return nil, err
	}
	if v.IDAO == nil {
		return nil, fmt.Errorf("DAT class %s names iDAO %q, which the chain proves absent", class.Hex(), c.IDAO)
	}
	return &provider.Terms{IDAO: c.IDAO, Submission: c.Provenance.Submission, Floor: int(v.IDAO.Policy.GroupFloor()),
		Allowed: c.QueryAllowed, Columns: c.QueryColumns}, nil
}

// Send sends body and returns its receipt (a failed one without error:
// the provider reads the verdict).
func (s *clientSender) Send(ctx context.Context, body tx.Body) (*chain.Receipt, error) {
	got, err := s.c.SendChainTx(ctx, s.key, body)
	if got == nil || got.Receipt == nil {
		if err == nil {
			err = fmt.Errorf("%s tx has no receipt", body.Kind())
		}
		return nil, err
	}
	r := got.Receipt
	rc := &chain.Receipt{TxHash: r.TxHash, Status: chain.StatusFailed, Detail: r.Error, Events: r.Events}
	if r.Status == "success" {
		rc.Status = chain.StatusSuccess
	} else if c, ok := codes.ByName(r.Code); ok {
		rc.Code = c
	}
	return rc, nil
}
