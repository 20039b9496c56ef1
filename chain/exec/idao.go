package exec

import (
	"fmt"
	"math/big"
	"strconv"

	"github.com/ethereum/go-ethereum/common"

	"github.com/vsc-labs/vsc/chain/state"
	"github.com/vsc-labs/vsc/chain/tx"
	"github.com/vsc-labs/vsc/idao"
	"github.com/vsc-labs/vsc/optimistic"
	"github.com/vsc-labs/vsc/quorum"
)

// The iDAO kinds: the registry, its stake, its verifier set and the
// slashing of an equivocating member.
var idaoRules = map[tx.Kind]rule{
	tx.KindIDAOCreate: kind[*tx.IDAOCreate]{
		access: func(a *accessList, b *tx.IDAOCreate) { a.write(state.IDAOKey(b.Name)) },
		moves:  func(b *tx.IDAOCreate) *big.Int { return b.Stake },
		apply:  (*run).idaoCreate,
	}.rule(),
	tx.KindIDAOJoin: kind[*tx.IDAOJoin]{
		access: func(a *accessList, b *tx.IDAOJoin) { a.write(state.IDAOKey(b.Name)) },
		moves:  func(b *tx.IDAOJoin) *big.Int { return b.Amount },
		apply:  (*run).idaoJoin,
	}.rule(),
	tx.KindIDAOLeave: kind[*tx.IDAOLeave]{
		access: func(a *accessList, b *tx.IDAOLeave) { a.write(state.IDAOKey(b.Name)) },
		apply:  (*run).idaoLeave,
	}.rule(),
	tx.KindIDAOWithdraw: kind[*tx.IDAOWithdraw]{
		access: func(a *accessList, b *tx.IDAOWithdraw) { a.write(state.IDAOKey(b.Name)) },
		apply:  (*run).idaoWithdraw,
	}.rule(),
	tx.KindIDAOSetPolicy: kind[*tx.IDAOSetPolicy]{
		access: func(a *accessList, b *tx.IDAOSetPolicy) { a.write(state.IDAOKey(b.Name)) },
		apply:  (*run).idaoSetPolicy,
	}.rule(),
	tx.KindEnclaveRegister: kind[*tx.EnclaveRegister]{
		access: func(a *accessList, b *tx.EnclaveRegister) {
			a.read(state.IDAOKey(b.IDAO))
			a.write(state.EnclaveKey(b.IDAO, b.PubKey))
		},
		apply: (*run).enclaveRegister,
	}.rule(),
	tx.KindVKRegister: kind[*tx.VKRegister]{
		access: func(a *accessList, b *tx.VKRegister) {
			a.read(state.IDAOKey(b.IDAO))
			a.write(state.VKKey(b.VKHash))
		},
		apply: (*run).vkRegister,
	}.rule(),
	tx.KindSlashEquivocation: kind[*tx.SlashEquivocation]{
		access: func(a *accessList, b *tx.SlashEquivocation) {
			a.write(state.IDAOKey(b.IDAO), state.AccountKey(b.Member), state.BurnedKey, state.SlashedKey(b.Member, b.First.Submission))
		},
		prepare: prepareEquivocation,
		apply:   (*run).slashEquivocation,
	}.rule(),
}

func (r *run) idao(name string) (*idao.IDAO, error) {
	d := new(idao.IDAO)
	if err := r.load(state.IDAOKey(name), d, fmt.Errorf("%w: %q", ErrUnknownIDAO, name)); err != nil {
		return nil, err
	}
	return d, nil
}

func (r *run) putIDAO(d *idao.IDAO) { r.v.put(state.IDAOKey(d.Name), state.Encode(d)) }

func (r *run) idaoCreate(b *tx.IDAOCreate) error {
	if r.v.get(state.IDAOKey(b.Name)) != nil {
		return fmt.Errorf("%w: %q", ErrIDAOExists, b.Name)
	}
	stake := b.Stake
	if stake == nil {
		stake = new(big.Int)
	}
	d, err := idao.New(b.Name, r.p.Sender, b.Policy, stake, r.env.Now(), r.env.Height, r.cfg.StakingParams())
	if err != nil {
		return err
	}
	if stake.Sign() > 0 {
		if err := r.stakeMove(r.p.Sender, new(big.Int).Neg(stake), stake); err != nil {
			return err
		}
	}
	r.putIDAO(d)
	r.emit("idao_created", "name", b.Name, "owner", hx(r.p.Sender), "stake", stake.String())
	return nil
}

func (r *run) idaoJoin(b *tx.IDAOJoin) error {
	d, err := r.idao(b.Name)
	if err != nil {
		return err
	}
	if !positive(b.Amount) {
		return idao.ErrZeroStake
	}
	if err := d.Join(r.p.Sender, b.Amount, r.env.Height, r.cfg.StakingParams()); err != nil {
		return err
	}
	if err := r.stakeMove(r.p.Sender, new(big.Int).Neg(b.Amount), b.Amount); err != nil {
		return err
	}
	r.putIDAO(d)
	r.emit("idao_joined", "name", b.Name, "member", hx(r.p.Sender), "amount", b.Amount.String())
	return nil
}

func (r *run) idaoLeave(b *tx.IDAOLeave) error {
	d, err := r.idao(b.Name)
	if err != nil {
		return err
	}
	if err := d.Leave(r.p.Sender, b.Amount, r.env.Now(), r.env.Height, r.cfg.StakingParams()); err != nil {
		return err
	}
	r.putIDAO(d)
	m := d.Member(r.p.Sender)
	r.emit("idao_unstaking", "name", b.Name, "member", hx(r.p.Sender), "amount", b.Amount.String(),
		"release_at", strconv.FormatUint(m.ReleaseAt, 10))
	return nil
}

func (r *run) idaoWithdraw(b *tx.IDAOWithdraw) error {
	d, err := r.idao(b.Name)
	if err != nil {
		return err
	}
	amt, err := d.Withdraw(r.p.Sender, r.env.Now())
	if err != nil {
		return err
	}
	if err := r.stakeMove(r.p.Sender, amt, new(big.Int).Neg(amt)); err != nil {
		return err
	}
	r.putIDAO(d)
	r.emit("idao_withdrawn", "name", b.Name, "member", hx(r.p.Sender), "amount", amt.String())
	return nil
}

func (r *run) idaoSetPolicy(b *tx.IDAOSetPolicy) error {
	d, err := r.idao(b.Name)
	if err != nil {
		return err
	}
	if err := d.SetPolicy(r.p.Sender, b.Policy, r.cfg.StakingParams()); err != nil {
		return err
	}
	r.putIDAO(d)
	r.emit("idao_policy", "name", b.Name)
	return nil
}

func (r *run) enclaveRegister(b *tx.EnclaveRegister) error {
	d, err := r.idao(b.IDAO)
	if err != nil {
		return err
	}
	key := state.EnclaveKey(b.IDAO, b.PubKey)
	if r.v.get(key) != nil {
		return ErrAlreadyRegistered
	}
	if r.cfg.Enclave == nil {
		return fmt.Errorf("%w: this chain has no enclave verifier configured", ErrEnclaveRefused)
	}
	if err := r.cfg.Enclave.VerifyEnclaveKey(b.IDAO, d.Policy.TEEPolicy, b.PubKey, b.Report); err != nil {
		return fmt.Errorf("%w: %v", ErrEnclaveRefused, err)
	}
	r.v.put(key, state.Encode(&state.Enclave{IDAO: b.IDAO, PubKey: b.PubKey, Report: b.Report, Height: r.env.Height}))
	r.emit("enclave_registered", "idao", b.IDAO, "pubkey", common.Bytes2Hex(b.PubKey))
	return nil
}

func (r *run) vkRegister(b *tx.VKRegister) error {
	d, err := r.idao(b.IDAO)
	if err != nil {
		return err
	}
	if d.Owner != r.p.Sender {
		return idao.ErrNotOwner
	}
	key := state.VKKey(b.VKHash)
	if r.v.get(key) != nil {
		return ErrAlreadyRegistered
	}
	r.v.put(key, state.Encode(&state.VK{IDAO: b.IDAO, Circuit: b.Circuit, Hash: b.VKHash, Height: r.env.Height}))
	r.emit("vk_registered", "idao", b.IDAO, "vk_hash", hx(b.VKHash), "circuit", b.Circuit)
	return nil
}

// prepareEquivocation recovers the signers of an equivocation proof's two
// votes (the zero address for one that does not recover).
func prepareEquivocation(cfg *Config, p *Prepared, b *tx.SlashEquivocation) {
	p.Signers = make([]common.Address, 2)
	for i, v := range []*tx.EquivocationVote{&b.First, &b.Second} {
		vote := v.Vote(b.IDAO)
		p.Signers[i], _ = vote.Recover(cfg.ChainID)
	}
}

// slashEquivocation slashes a member that signed two digests for one
// submission, once: the (member, submission) pair is recorded, so the same
// proof cannot slash the member again after it re-stakes.
func (r *run) slashEquivocation(b *tx.SlashEquivocation) error {
	if b.First.Submission != b.Second.Submission || b.First.ResultDigest == b.Second.ResultDigest {
		return quorum.ErrNotEquivocal
	}
	if r.p.Signers[0] != b.Member || r.p.Signers[1] != b.Member {
		return fmt.Errorf("%w: votes not both signed by %s", quorum.ErrNotEquivocal, b.Member)
	}
	slashed := state.SlashedKey(b.Member, b.First.Submission)
	if r.v.get(slashed) != nil {
		return fmt.Errorf("%w: %s on %s", idao.ErrAlreadySlashed, b.Member.Hex(), b.First.Submission.Hex())
	}
	d, err := r.idao(b.IDAO)
	if err != nil {
		return err
	}
	m := d.Member(b.Member)
	if m == nil {
		return idao.ErrNotMember
	}
	all := new(big.Int).Add(m.Stake, m.Pending)
	taken, err := d.Slash(b.Member, all, r.env.Height, r.cfg.StakingParams())
	if err != nil {
		return err
	}
	if taken.Sign() == 0 {
		return fmt.Errorf("%w: member has no stake left", ErrBadAmount)
	}
	// The prover's share is the optimistic policy's (default 50%, the
	// floor of half as before); the rest is burned.
	reward, _ := optimistic.Split(taken, r.cfg.OptimisticParams().EquivocationShareBps)
	macc, err := r.account(b.Member)
	if err != nil {
		return err
	}
	macc.Staked = new(big.Int).Sub(macc.Staked, taken)
	r.putAccount(b.Member, macc)
	if err := r.credit(r.p.Sender, reward); err != nil {
		return err
	}
	r.burn(new(big.Int).Sub(taken, reward))
	r.putIDAO(d)
	r.v.put(slashed, []byte{1})
	r.emit("member_slashed", "idao", b.IDAO, "member", hx(b.Member), "slashed", taken.String(), "reward", reward.String())
	return nil
}
