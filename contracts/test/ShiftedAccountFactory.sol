// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {ThresholdAccount} from "../ThresholdAccount.sol";

/// @title For tests: a factory whose accounts land elsewhere than AccountFactory's for the same key and salt, as
/// a factory built from another version of the account code would. The tools must ask a factory, not assume it.
contract ShiftedAccountFactory {
    event AccountDeployed(address indexed account, uint256 indexed key, bytes32 salt);

    function predict(uint256 key, bytes32 salt) public view returns (address) {
        bytes32 initCodeHash = keccak256(abi.encodePacked(type(ThresholdAccount).creationCode, abi.encode(key, address(0), uint256(0), uint256(0))));
        bytes32 h = keccak256(abi.encodePacked(bytes1(0xff), address(this), _shifted(salt), initCodeHash));
        return address(uint160(uint256(h)));
    }

    function deploy(uint256 key, bytes32 salt) external returns (address account) {
        account = address(new ThresholdAccount{salt: _shifted(salt)}(key, address(0), 0, 0));
        emit AccountDeployed(account, key, salt);
    }

    function _shifted(bytes32 salt) private pure returns (bytes32) {
        return salt ^ bytes32(uint256(1));
    }
}
