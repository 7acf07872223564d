// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Bip340} from "../Bip340.sol";

/// @notice Exposes the Bip340 library to tests and to the gas measurement.
contract Bip340Harness {
    function isValidKey(uint256 px) external view returns (bool) {
        return Bip340.isValidKey(px);
    }

    function verify(uint256 px, bytes32 m, bytes calldata signature) external view returns (bool) {
        return Bip340.verifyEncoded(px, m, signature);
    }

    /// Gas of one verification as the EVM counts it, without the transaction's base cost and calldata.
    function measure(uint256 px, bytes32 m, uint256 rx, uint256 s, uint256 ry)
        external
        view
        returns (bool ok, uint256 gasUsed)
    {
        uint256 before = gasleft();
        ok = Bip340.verify(px, m, rx, s, ry);
        gasUsed = before - gasleft();
    }
}
