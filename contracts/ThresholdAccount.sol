// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Bip340} from "./Bip340.sol";

/// @title An account controlled by the x-only BIP340 key of a Frostnet group.
/// @notice Every action carries one Schnorr signature of the group, whatever its threshold. Signatures are
/// encoded as Bip340 expects: rx || s || ry (96 bytes). Actions sign an EIP-712 digest that binds the chain id,
/// this account (verifyingContract), the next nonce (one sequence for every action) and a deadline.
contract ThresholdAccount {
    bytes32 private constant DOMAIN_TYPEHASH =
        keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)");
    bytes32 private constant NAME_HASH = keccak256("Frostnet Threshold Account");
    bytes32 private constant VERSION_HASH = keccak256("1");
    bytes32 public constant EXECUTE_TYPEHASH =
        keccak256("Execute(address to,uint256 value,bytes data,uint256 nonce,uint256 deadline)");
    bytes32 public constant ROTATE_KEY_TYPEHASH = keccak256("RotateKey(uint256 newKey,uint256 nonce,uint256 deadline)");
    bytes4 private constant ERC1271_MAGIC = 0x1626ba7e;
    bytes4 private constant ERC1271_INVALID = 0xffffffff;

    /// The nonce the next signed action must carry.
    uint64 public nonce;
    // The key the account was deployed with lives in its code; the first rotation moves the key to storage.
    // Until then an action reads one storage slot (nonce and this flag) instead of two: 2,100 gas less.
    bool private rotated;
    uint256 private rotatedKey;
    uint256 private immutable deployedKey;

    // The domain separator is cached for the deployment chain and recomputed after a fork changes the id.
    uint256 private immutable cachedChainId;
    bytes32 private immutable cachedDomainSeparator;

    event Executed(uint256 indexed nonce, address indexed to, uint256 value);
    event KeyRotated(uint256 indexed nonce, uint256 oldKey, uint256 newKey);

    error BadSignature();
    error Expired(uint256 deadline, uint256 timestamp);
    error InvalidKey(uint256 key);
    error CallFailed(bytes reason);

    constructor(uint256 key) {
        if (!Bip340.isValidKey(key)) revert InvalidKey(key);
        deployedKey = key;
        cachedChainId = block.chainid;
        cachedDomainSeparator = _buildDomainSeparator();
    }

    receive() external payable {}

    /// Calls `to` with `value` and `data`, signed by the group over Execute(to, value, data, nonce, deadline).
    /// A failing call reverts the whole action, so its nonce stays unused until the deadline.
    function execute(address to, uint256 value, bytes calldata data, uint256 deadline, bytes calldata signature)
        external
        returns (bytes memory result)
    {
        if (block.timestamp > deadline) revert Expired(deadline, block.timestamp);
        uint64 current = nonce;
        bytes32 digest =
            _digest(keccak256(abi.encode(EXECUTE_TYPEHASH, to, value, keccak256(data), current, deadline)));
        if (!Bip340.verifyEncoded(groupKey(), digest, signature)) revert BadSignature();
        nonce = current + 1;
        bool ok;
        (ok, result) = to.call{value: value}(data);
        if (!ok) revert CallFailed(result);
        emit Executed(current, to, value);
    }

    /// Replaces the group key, signed by the current one over RotateKey(newKey, nonce, deadline).
    function rotateKey(uint256 newKey, uint256 deadline, bytes calldata signature) external {
        if (block.timestamp > deadline) revert Expired(deadline, block.timestamp);
        if (!Bip340.isValidKey(newKey)) revert InvalidKey(newKey);
        uint64 current = nonce;
        bytes32 digest = _digest(keccak256(abi.encode(ROTATE_KEY_TYPEHASH, newKey, current, deadline)));
        uint256 oldKey = groupKey();
        if (!Bip340.verifyEncoded(oldKey, digest, signature)) revert BadSignature();
        nonce = current + 1;
        rotated = true;
        rotatedKey = newKey;
        emit KeyRotated(current, oldKey, newKey);
    }

    /// ERC-1271: the magic value exactly when `signature` is a valid BIP340 signature of `hash` by the group key.
    function isValidSignature(bytes32 hash, bytes calldata signature) external view returns (bytes4) {
        return Bip340.verifyEncoded(groupKey(), hash, signature) ? ERC1271_MAGIC : ERC1271_INVALID;
    }

    /// The group's current x-only key (BIP340 px).
    function groupKey() public view returns (uint256) {
        return rotated ? rotatedKey : deployedKey;
    }

    function domainSeparator() public view returns (bytes32) {
        return block.chainid == cachedChainId ? cachedDomainSeparator : _buildDomainSeparator();
    }

    function _buildDomainSeparator() private view returns (bytes32) {
        return keccak256(abi.encode(DOMAIN_TYPEHASH, NAME_HASH, VERSION_HASH, block.chainid, address(this)));
    }

    function _digest(bytes32 structHash) private view returns (bytes32) {
        return keccak256(abi.encodePacked("\x19\x01", domainSeparator(), structHash));
    }
}
