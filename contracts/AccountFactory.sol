// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {ThresholdAccount} from "./ThresholdAccount.sol";

/// @title CREATE2 factory for ThresholdAccount: an account's address follows from (factory, key, salt) alone,
/// so it can receive funds before it is deployed.
contract AccountFactory {
    event AccountDeployed(address indexed account, uint256 indexed key, bytes32 salt);

    error AlreadyDeployed(address account);

    /// The address deploy(key, salt) creates: an account without recovery.
    function predict(uint256 key, bytes32 salt) public view returns (address) {
        return predictWithRecovery(key, address(0), 0, 0, salt);
    }

    /// The address deployWithRecovery creates. The recovery setup is part of the address: an account found at
    /// it has exactly this recoverer, period and delay.
    function predictWithRecovery(uint256 key, address recoverer, uint256 period, uint256 delay, bytes32 salt)
        public
        view
        returns (address)
    {
        bytes32 initCodeHash = keccak256(
            abi.encodePacked(type(ThresholdAccount).creationCode, abi.encode(key, recoverer, period, delay))
        );
        return address(uint160(uint256(keccak256(abi.encodePacked(bytes1(0xff), address(this), salt, initCodeHash)))));
    }

    /// Deploys the account for `key`, without recovery; anyone may call it, the result is the same account.
    /// Reverts with the account's InvalidKey for a key it cannot verify for.
    function deploy(uint256 key, bytes32 salt) external returns (address) {
        return deployWithRecovery(key, address(0), 0, 0, salt);
    }

    /// Deploys the account for `key` with recovery by `recoverer` after `period` seconds without an action and
    /// a further `delay` (the account's InvalidRecovery for a setup it refuses).
    function deployWithRecovery(uint256 key, address recoverer, uint256 period, uint256 delay, bytes32 salt)
        public
        returns (address account)
    {
        address predicted = predictWithRecovery(key, recoverer, period, delay, salt);
        if (predicted.code.length != 0) revert AlreadyDeployed(predicted);
        account = address(new ThresholdAccount{salt: salt}(key, recoverer, period, delay));
        emit AccountDeployed(account, key, salt);
    }
}
