package main

import (
	"encoding/json"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/signer/core/apitypes"

	"github.com/vsc-labs/vsc/internal/eip712"
)

// hashTypedDataJSON hashes eth_signTypedData_v4 JSON the way a wallet does.
func hashTypedDataJSON(raw json.RawMessage) (common.Hash, error) {
	var td apitypes.TypedData
	if err := json.Unmarshal(raw, &td); err != nil {
		return common.Hash{}, err
	}
	return eip712.HashTypedData(td)
}
