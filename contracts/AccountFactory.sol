// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {ThresholdAccount} from "./ThresholdAccount.sol";

/// @title CREATE2 factory for ThresholdAccount: an account's address follows from (factory, key, salt) alone,
/// so it can receive funds before it is deployed.
contract AccountFactory {
    event AccountDeployed(address indexed account, uint256 indexed key, bytes32 salt);

    error AlreadyDeployed(address account);

    /// The address deploy(key, salt) creates.
    function predict(uint256 key, bytes32 salt) public view returns (address) {
        bytes32 initCodeHash = keccak256(abi.encodePacked(type(ThresholdAccount).creationCode, abi.encode(key)));
        return address(uint160(uint256(keccak256(abi.encodePacked(bytes1(0xff), address(this), salt, initCodeHash)))));
    }

    /// Deploys the account for `key`; anyone may call it, the result is the same account. Reverts with the
    /// account's InvalidKey for a key it cannot verify for.
    function deploy(uint256 key, bytes32 salt) external returns (address account) {
        address predicted = predict(key, salt);
        if (predicted.code.length != 0) revert AlreadyDeployed(predicted);
        account = address(new ThresholdAccount{salt: salt}(key));
        emit AccountDeployed(account, key, salt);
    }
}
