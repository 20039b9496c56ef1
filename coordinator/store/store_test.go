package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"math/big"
	"slices"
	"testing"

	"github.com/ethereum/go-ethereum/common"

	"github.com/vsc-labs/vsc/coordinator"
	"github.com/vsc-labs/vsc/coordinator/store"
	"github.com/vsc-labs/vsc/idao"
	"github.com/vsc-labs/vsc/internal/testenv"
)

// The PostgreSQL registry (a coordinator without a chain) stores an iDAO
// and gives back the same one: its modes, its policy's details, its
// enclave key and its members' stake.
func TestIDAORegistryRoundTrip(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, testenv.Database(t), 4, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	owner, member := common.Address{1}, common.Address{2}
	teePolicy := json.RawMessage(`{"allow_simulation":true}`)
	in := &coordinator.Registered{
		IDAO: &idao.IDAO{Name: "weather", Owner: owner, Policy: idao.Policy{Modes: []idao.Mode{idao.ModeTEEZK, idao.ModeTEE},
			Price: big.NewInt(7), TEEPolicy: teePolicy, VKHash: common.Hash{9}, UnstakeDelay: 60}},
		Enclave: &coordinator.EnclaveKey{PublicKey: []byte{4, 1, 2}, Report: json.RawMessage(`{"backend":"sim"}`)},
	}
	if err := st.CreateIDAO(ctx, in); err != nil {
		t.Fatal(err)
	}
	if err := st.CreateIDAO(ctx, in); !errors.Is(err, store.ErrExists) {
		t.Fatalf("the same name again: %v", err)
	}
	if err := st.Join(ctx, "weather", member, big.NewInt(30)); err != nil {
		t.Fatal(err)
	}
	if err := st.Join(ctx, "nope", member, big.NewInt(30)); !errors.Is(err, store.ErrUnknownIDAO) {
		t.Fatalf("joining an unknown iDAO: %v", err)
	}
	got, err := st.GetIDAO(ctx, "weather")
	if err != nil {
		t.Fatal(err)
	}
	p := got.Policy
	if got.Name != "weather" || got.Owner != owner || !slices.Equal(p.Modes, in.Policy.Modes) || got.DefaultMode() != idao.ModeTEEZK ||
		p.Price.Cmp(big.NewInt(7)) != 0 || p.VKHash != (common.Hash{9}) || p.UnstakeDelay != 60 {
		t.Fatalf("read back %+v (policy %+v)", got.IDAO, p)
	}
	var a, b any
	if json.Unmarshal(p.TEEPolicy, &a) != nil || json.Unmarshal(teePolicy, &b) != nil || !jsonEqual(a, b) {
		t.Fatalf("TEE policy %s, stored %s", p.TEEPolicy, teePolicy)
	}
	if string(got.EnclavePubkey()) != string(in.Enclave.PublicKey) || len(got.Enclave.Report) == 0 {
		t.Fatalf("enclave %+v", got.Enclave)
	}
	if len(got.Members) != 1 || got.Members[0].Addr != member || got.StakeOf(member).Int64() != 30 || got.TotalStake().Int64() != 30 {
		t.Fatalf("members %+v", got.Members)
	}
	if _, err := st.GetIDAO(ctx, "nope"); !errors.Is(err, store.ErrUnknownIDAO) {
		t.Fatalf("an unknown iDAO: %v", err)
	}
	// one without details or enclave shows neither
	bare := &coordinator.Registered{IDAO: &idao.IDAO{Name: "bare", Owner: owner, Policy: idao.Policy{Modes: []idao.Mode{idao.ModeZK}}}}
	if err := st.CreateIDAO(ctx, bare); err != nil {
		t.Fatal(err)
	}
	page, err := st.IDAOPage(ctx, "", 10)
	if err != nil || len(page) != 2 || page[0].Name != "bare" || page[1].Name != "weather" {
		t.Fatalf("page: %v %v", err, page)
	}
	if c := coordinator.NewPolicyConfig(&page[0].Policy); !c.Empty() || page[0].Enclave != nil || page[0].Members != nil {
		t.Fatalf("a bare iDAO read back with details %+v, enclave %+v, members %+v", c, page[0].Enclave, page[0].Members)
	}
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}
