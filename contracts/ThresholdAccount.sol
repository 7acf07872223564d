// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Bip340} from "./Bip340.sol";

/// @title An account controlled by the x-only BIP340 key of a Frostnet group.
/// @notice Every action carries one Schnorr signature of the group, whatever its threshold. Signatures are
/// encoded as Bip340 expects: rx || s || ry (96 bytes). Actions sign an EIP-712 digest that binds the chain id,
/// this account (verifyingContract), the next nonce (one sequence for every action) and a deadline.
/// Optional recovery, fixed at deployment (so the account's address commits to it): after `recoveryPeriod`
/// seconds with no executed action, `recoverer` may initiate replacing the group key; the replacement can be
/// finalized `recoveryDelay` seconds later, unless the group vetoes it or executes any action in between.
contract ThresholdAccount {
    bytes32 private constant DOMAIN_TYPEHASH =
        keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)");
    bytes32 private constant NAME_HASH = keccak256("Frostnet Threshold Account");
    bytes32 private constant VERSION_HASH = keccak256("1");
    bytes32 public constant EXECUTE_TYPEHASH =
        keccak256("Execute(address to,uint256 value,bytes data,uint256 nonce,uint256 deadline)");
    bytes32 public constant ROTATE_KEY_TYPEHASH = keccak256("RotateKey(uint256 newKey,uint256 nonce,uint256 deadline)");
    // Private, unlike the other type hashes: one more public function would make execute's dispatch dearer.
    bytes32 private constant VETO_RECOVERY_TYPEHASH = keccak256("VetoRecovery(uint256 nonce,uint256 deadline)");
    /// The longest recovery period or delay (about 136 years), so that no sum of them with a time overflows.
    uint256 private constant MAX_RECOVERY_SECONDS = type(uint32).max;
    bytes4 private constant ERC1271_MAGIC = 0x1626ba7e;
    bytes4 private constant ERC1271_INVALID = 0xffffffff;

    /// The nonce (low 64 bits) and the time of the last action (above them) as one value, so that an action
    /// records both with the single storage write the nonce alone took (two fields cost 100 gas more).
    uint104 private counter;
    // The key the account was deployed with lives in its code; the first rotation moves the key to storage.
    // Until then an action reads one storage slot (nonce and this flag) instead of two: 2,100 gas less.
    bool private rotated;
    /// When the pending recovery was initiated; 0 when none is pending.
    uint40 private recoveryStartedAt;
    uint256 private rotatedKey;
    uint256 private pendingRecoveryKey;
    uint256 private immutable deployedKey;

    address private immutable recoverer;
    uint256 private immutable recoveryPeriod;
    uint256 private immutable recoveryDelay;

    // The domain separator is cached for the deployment chain and recomputed after a fork changes the id.
    uint256 private immutable cachedChainId;
    bytes32 private immutable cachedDomainSeparator;

    event Executed(uint256 indexed nonce, address indexed to, uint256 value);
    event KeyRotated(uint256 indexed nonce, uint256 oldKey, uint256 newKey);
    event RecoveryConfigured(address indexed recoverer, uint256 period, uint256 delay);
    event RecoveryInitiated(uint256 newKey, uint256 completesAt);
    event RecoveryVetoed(uint256 indexed nonce, uint256 newKey);
    event RecoveryFinalized(uint256 oldKey, uint256 newKey);

    error BadSignature();
    error Expired(uint256 deadline, uint256 timestamp);
    error InvalidKey(uint256 key);
    error CallFailed(bytes reason);
    error InvalidRecovery(address recoverer, uint256 period, uint256 delay);
    error NotRecoverer(address caller);
    error StillActive(uint256 opensAt, uint256 timestamp);
    error NoRecoveryPending();
    error RecoveryDelayRunning(uint256 completesAt, uint256 timestamp);
    error ActedSinceRecoveryInitiated(uint256 lastActionAt, uint256 startedAt);

    /// `recoverer` zero (with period and delay zero) deploys an account without recovery.
    constructor(uint256 key, address recoverer_, uint256 period, uint256 delay) {
        if (!Bip340.isValidKey(key)) revert InvalidKey(key);
        bool off = recoverer_ == address(0);
        if (
            off ? (period != 0 || delay != 0)
                : (period == 0 || delay == 0 || period > MAX_RECOVERY_SECONDS || delay > MAX_RECOVERY_SECONDS)
        ) revert InvalidRecovery(recoverer_, period, delay);
        deployedKey = key;
        recoverer = recoverer_;
        recoveryPeriod = period;
        recoveryDelay = delay;
        cachedChainId = block.chainid;
        cachedDomainSeparator = _buildDomainSeparator();
        if (!off) {
            // The inactivity clock starts at deployment, not at time zero.
            counter = _stamp(0);
            emit RecoveryConfigured(recoverer_, period, delay);
        }
    }

    receive() external payable {}

    /// Calls `to` with `value` and `data`, signed by the group over Execute(to, value, data, nonce, deadline).
    /// A failing call reverts the whole action, so its nonce stays unused until the deadline.
    function execute(address to, uint256 value, bytes calldata data, uint256 deadline, bytes calldata signature)
        external
    {
        if (block.timestamp > deadline) revert Expired(deadline, block.timestamp);
        uint64 current = nonce();
        // groupKey() written out: the compiler then reads the nonce's slot once for both (100 gas less).
        uint256 key = rotated ? rotatedKey : deployedKey;
        bytes32 digest = _digest(_executeHash(to, value, data, current, deadline));
        if (!Bip340.verifyEncoded(key, digest, signature)) revert BadSignature();
        // Cannot wrap: 2^64 actions at 40,000 gas each are far beyond any chain's life.
        unchecked {
            counter = _stamp(current + 1);
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
        uint64 current = nonce();
        bytes32 digest = _digest(keccak256(abi.encode(ROTATE_KEY_TYPEHASH, newKey, current, deadline)));
        uint256 oldKey = groupKey();
        if (!Bip340.verifyEncoded(oldKey, digest, signature)) revert BadSignature();
        counter = _stamp(current + 1);
        rotated = true;
        rotatedKey = newKey;
        emit KeyRotated(current, oldKey, newKey);
    }

    // The recovery functions are named so that their selectors sort after execute's: the dispatcher compares
    // selectors in order, and each one before execute would cost every execute 22 gas.

    /// The recoverer initiates replacing the group key with `newKey`, once the account has had no action for
    /// the recovery period. Initiating again before it is finalized replaces it and restarts the delay.
    function initiateRecovery(uint256 newKey) external {
        if (msg.sender != recoverer) revert NotRecoverer(msg.sender);
        if (!Bip340.isValidKey(newKey)) revert InvalidKey(newKey);
        uint256 opensAt = lastActionAt() + recoveryPeriod;
        if (block.timestamp < opensAt) revert StillActive(opensAt, block.timestamp);
        pendingRecoveryKey = newKey;
        recoveryStartedAt = uint40(block.timestamp);
        emit RecoveryInitiated(newKey, block.timestamp + recoveryDelay);
    }

    /// Finalizes the pending recovery once its delay has passed with no action of the group; anyone may call
    /// it, the outcome is fixed. The new key gets a fresh inactivity period.
    function finalizeRecovery() external {
        uint256 startedAt = recoveryStartedAt;
        if (startedAt == 0) revert NoRecoveryPending();
        uint256 last = lastActionAt();
        if (last >= startedAt) revert ActedSinceRecoveryInitiated(last, startedAt);
        uint256 completesAt = startedAt + recoveryDelay;
        if (block.timestamp < completesAt) revert RecoveryDelayRunning(completesAt, block.timestamp);
        uint256 oldKey = groupKey();
        uint256 newKey = pendingRecoveryKey;
        rotated = true;
        rotatedKey = newKey;
        counter = _stamp(nonce());
        recoveryStartedAt = 0;
        delete pendingRecoveryKey;
        emit RecoveryFinalized(oldKey, newKey);
    }

    /// The group cancels the pending recovery, signed by its key over VetoRecovery(nonce, deadline).
    function vetoRecovery(uint256 deadline, bytes calldata signature) external {
        if (block.timestamp > deadline) revert Expired(deadline, block.timestamp);
        if (recoveryStartedAt == 0) revert NoRecoveryPending();
        uint64 current = nonce();
        bytes32 digest = _digest(keccak256(abi.encode(VETO_RECOVERY_TYPEHASH, current, deadline)));
        if (!Bip340.verifyEncoded(groupKey(), digest, signature)) revert BadSignature();
        uint256 newKey = pendingRecoveryKey;
        counter = _stamp(current + 1);
        recoveryStartedAt = 0;
        delete pendingRecoveryKey;
        emit RecoveryVetoed(current, newKey);
    }

    /// The recovery setup (recoverer zero without recovery; period and delay in seconds), the last action's
    /// time, and the pending recovery's new key and earliest finalization (zeros when none is pending).
    function recovery()
        external
        view
        returns (
            address recoverer_,
            uint256 period,
            uint256 delay,
            uint256 lastAction,
            uint256 pendingKey,
            uint256 completesAt
        )
    {
        uint256 startedAt = recoveryStartedAt;
        return (
            recoverer,
            recoveryPeriod,
            recoveryDelay,
            lastActionAt(),
            pendingRecoveryKey,
            startedAt == 0 ? 0 : startedAt + recoveryDelay
        );
    }

    /// ERC-1271: the magic value exactly when `signature` is a valid BIP340 signature of `hash` by the group key.
    function isValidSignature(bytes32 hash, bytes calldata signature) external view returns (bytes4) {
        return Bip340.verifyEncoded(groupKey(), hash, signature) ? ERC1271_MAGIC : ERC1271_INVALID;
    }

    /// The nonce the next signed action must carry.
    function nonce() public view returns (uint64) {
        return uint64(counter);
    }

    /// When the last action (execute, rotateKey, vetoRecovery, a finalized recovery) ran, as a unix time; for
    /// an account with recovery the deployment counts as one. Zero for an account that never acted.
    function lastActionAt() internal view returns (uint256) {
        return counter >> 64;
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

    /// The counter with nonce `next` and this block's time as the last action's.
    function _stamp(uint64 next) private view returns (uint104) {
        return uint104(next) | (uint104(block.timestamp) << 64);
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
