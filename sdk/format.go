package sdk

import (
	"encoding/hex"
	"strconv"
)

func formatInt(v int64) string     { return strconv.FormatInt(v, 10) }
func formatUint(v uint64) string   { return strconv.FormatUint(v, 10) }
func formatFloat(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
func formatBytes(v []byte) string  { return "0x" + hex.EncodeToString(v) }
