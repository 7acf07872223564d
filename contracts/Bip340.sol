// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title BIP340 Schnorr verification of 32-byte messages under an x-only secp256k1 key.
/// @notice Encoded signature (96 bytes): rx || s || ry. The first 64 bytes are exactly the BIP340 signature;
/// ry is a hint, the y coordinate of R, which BIP340 fixes as the even root. The hint is checked (below p,
/// even, on the curve), so at most one ry passes for each rx and the hint can never change the verdict.
/// @dev s·G - e·P comes from the ecrecover precompile: ecrecover(h, v, r, s') is the address of
/// r^-1·(s'·K - h·G), K being the point with x = r and y parity v - 27. With K = P (x = px, even y, v = 27),
/// h = -s·px and s' = -e·px, that is s·G - e·P, which must be R: compared by address.
/// Exact except where it needs the impossible: keys with px >= n are refused (ecrecover takes r < n only;
/// isValidKey reports them; a random key hits this with probability ~2^-128), and e = 0 (it needs a SHA-256
/// preimage) would make s' = 0, which ecrecover refuses.
library Bip340 {
    /// secp256k1 field prime and group order.
    uint256 internal constant P = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEFFFFFC2F;
    uint256 internal constant N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141;
    /// sha256("BIP0340/challenge"), the tag hashed twice in front of every challenge.
    bytes32 internal constant CHALLENGE_TAG = 0x7bb52d7a9fef58323eb1bf7a407db382d2f3f2d81bb1224f49fe518f6d48d37c;
    uint256 internal constant SIGNATURE_LENGTH = 96;

    /// True when px is the x coordinate of a curve point and below n, i.e. a key this library can verify for.
    function isValidKey(uint256 px) internal view returns (bool ok) {
        assembly ("memory-safe") {
            // ecrecover(0, 27, px, 1) = px^-1·K, never infinite: it fails exactly when K does not exist or px is
            // outside [1, n).
            let ptr := mload(0x40)
            mstore(ptr, 0)
            mstore(add(ptr, 0x20), 27)
            mstore(add(ptr, 0x40), px)
            mstore(add(ptr, 0x60), 1)
            mstore(0x00, 0)
            pop(staticcall(gas(), 0x01, ptr, 0x80, 0x00, 0x20))
            ok := iszero(iszero(mload(0x00)))
        }
    }

    /// True exactly when (rx, s) is a valid BIP340 signature of m under px, given R's even y coordinate ry.
    function verify(uint256 px, bytes32 m, uint256 rx, uint256 s, uint256 ry) internal view returns (bool ok) {
        // R = (rx, ry) must be the even-y curve point with x = rx, and s a scalar. The hint check is what keeps
        // forgery at 2^160 work: were ry free, one rx would offer many addresses to match against s·G - e·P,
        // and a birthday search would need only 2^80.
        if (rx >= P || ry >= P || s >= N || ry & 1 != 0) return false;
        if (mulmod(ry, ry, P) != addmod(mulmod(mulmod(rx, rx, P), rx, P), 7, P)) return false;
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            // e = sha256(tag || tag || rx || px || m) mod n
            mstore(ptr, CHALLENGE_TAG)
            mstore(add(ptr, 0x20), CHALLENGE_TAG)
            mstore(add(ptr, 0x40), rx)
            mstore(add(ptr, 0x60), px)
            mstore(add(ptr, 0x80), m)
            // The sha256 precompile fails only when out of gas.
            if iszero(staticcall(gas(), 0x02, ptr, 0xa0, 0x00, 0x20)) { revert(0, 0) }
            let e := mod(mload(0x00), N)
            // s < n, so n - s is in (0, n]; s = 0 gives h = 0 as it should.
            mstore(ptr, mulmod(sub(N, s), px, N))
            mstore(add(ptr, 0x20), 27)
            mstore(add(ptr, 0x40), px)
            mstore(add(ptr, 0x60), mulmod(sub(N, e), px, N))
            // On failure (bad key, s' = 0, s·G - e·P at infinity) ecrecover returns nothing and 0x00 stays 0.
            mstore(0x00, 0)
            pop(staticcall(gas(), 0x01, ptr, 0x80, 0x00, 0x20))
            let recovered := mload(0x00)
            mstore(ptr, rx)
            mstore(add(ptr, 0x20), ry)
            let rAddress := and(keccak256(ptr, 0x40), 0xffffffffffffffffffffffffffffffffffffffff)
            ok := and(iszero(iszero(recovered)), eq(recovered, rAddress))
        }
    }

    /// verify() on the 96-byte encoding rx || s || ry; any other length is invalid.
    function verifyEncoded(uint256 px, bytes32 m, bytes calldata signature) internal view returns (bool) {
        if (signature.length != SIGNATURE_LENGTH) return false;
        uint256 rx;
        uint256 s;
        uint256 ry;
        assembly ("memory-safe") {
            rx := calldataload(signature.offset)
            s := calldataload(add(signature.offset, 0x20))
            ry := calldataload(add(signature.offset, 0x40))
        }
        return verify(px, m, rx, s, ry);
    }
}
