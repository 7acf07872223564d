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
    {
        if (block.timestamp > deadline) revert Expired(deadline, block.timestamp);
        uint64 current = nonce;
        // groupKey() written out: the compiler then reads the nonce's slot once for both (100 gas less).
        uint256 key = rotated ? rotatedKey : deployedKey;
        bytes32 digest = _digest(_executeHash(to, value, data, current, deadline));
        if (!Bip340.verifyEncoded(key, digest, signature)) revert BadSignature();
        // Cannot wrap: 2^64 actions at 40,000 gas each are far beyond any chain's life.
        unchecked {
            nonce = current + 1;
        }
        bool ok;
        // As to.call{value: value}(data), but the return data is copied only when the call failed, to revert
        // with it (about 100 gas less).
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            calldatacopy(ptr, data.offset, data.length)
            ok := call(gas(), to, value, ptr, data.length, 0, 0)
        }
        if (!ok) _revertCallFailed();
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

    /// keccak256(abi.encode(EXECUTE_TYPEHASH, to, value, keccak256(data), nonce, deadline)), hashed in free
    /// memory without allocating it: abi.encode and its allocation cost about 360 gas more every execute.
    function _executeHash(address to, uint256 value, bytes calldata data, uint64 current, uint256 deadline)
        private
        pure
        returns (bytes32 structHash)
    {
        bytes32 typeHash = EXECUTE_TYPEHASH;
        // Assembly sees narrow types with unspecified high bits; these conversions make them clean words.
        uint256 toWord = uint160(to);
        uint256 nonceWord = current;
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            calldatacopy(ptr, data.offset, data.length)
            let dataHash := keccak256(ptr, data.length)
            mstore(ptr, typeHash)
            mstore(add(ptr, 0x20), toWord)
            mstore(add(ptr, 0x40), value)
            mstore(add(ptr, 0x60), dataHash)
            mstore(add(ptr, 0x80), nonceWord)
            mstore(add(ptr, 0xa0), deadline)
            structHash := keccak256(ptr, 0xc0)
        }
    }

    /// Reverts with CallFailed carrying the return data of the call that just failed.
    function _revertCallFailed() private pure {
        bytes memory reason;
        assembly ("memory-safe") {
            reason := mload(0x40)
            mstore(reason, returndatasize())
            returndatacopy(add(reason, 0x20), 0, returndatasize())
            // Allocated: the free memory pointer moves past it, rounded up to a word as Solidity keeps it.
            mstore(0x40, add(reason, and(add(returndatasize(), 0x3f), not(0x1f))))
        }
        revert CallFailed(reason);
    }

    function _buildDomainSeparator() private view returns (bytes32) {
        return keccak256(abi.encode(DOMAIN_TYPEHASH, NAME_HASH, VERSION_HASH, block.chainid, address(this)));
    }

    /// keccak256("\x19\x01" || domainSeparator || structHash), in free memory without allocating it (as
    /// OpenZeppelin's MessageHashUtils.toTypedDataHash).
    function _digest(bytes32 structHash) private view returns (bytes32 digest) {
        bytes32 separator = domainSeparator();
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            mstore(ptr, hex"1901")
            mstore(add(ptr, 0x02), separator)
            mstore(add(ptr, 0x22), structHash)
            digest := keccak256(ptr, 0x42)
        }
    }
}
