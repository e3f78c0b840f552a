package testframes

import (
	"encoding/binary"
	"fmt"
	"strings"
)

// EDF returns an EDF file of constant int32 frames of rows × cols, one
// frame per value, written here from the format's description: each frame
// is a text header padded to a multiple of 512 bytes, then its pixels,
// little endian, Dim_1 (columns) fastest.
func EDF(rows, cols int, values ...int32) []byte {
	var b []byte
	for i, v := range values {
		h := fmt.Sprintf("{\nHeaderID = EH:%06d:000000:000000 ;\nImage = %d ;\nByteOrder = LowByteFirst ;\nDataType = SignedInteger ;\nDim_1 = %d ;\nDim_2 = %d ;\nSize = %d ;\n",
			i+1, i+1, cols, rows, 4*rows*cols)
		h += strings.Repeat(" ", 512-(len(h)+2)%512) + "}\n"
		b = append(b, h...)
		for range rows * cols {
			b = binary.LittleEndian.AppendUint32(b, uint32(v))
		}
	}
	return b
}
