"""Wallet keys: an address or an extended public key, and the addresses it derives (with embit).

An account-level extended public key (``m/purpose'/coin'/account'``) derives its receive chain at
``/0/i`` and its change chain at ``/1/i``. The SLIP-132 prefix says the script type (xpub: P2PKH,
ypub: P2SH-P2WPKH, zpub: P2WPKH; tpub/upub/vpub on test networks); BIP86 taproot keys use the plain
xpub prefix, so their script type must be given (``script_type="p2tr"``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from embit import bip32, script  # type: ignore[import-untyped]
from embit.networks import NETWORKS  # type: ignore[import-untyped]

from txsync.errors import ConfigurationError

__all__ = [
    "CHAINS",
    "NETWORK_NAMES",
    "SCRIPT_TYPES",
    "WalletKeys",
    "normalize_script_type",
]

#: Script types txsync derives addresses for.
SCRIPT_TYPES: tuple[str, ...] = ("p2pkh", "p2sh-p2wpkh", "p2wpkh", "p2tr")

#: Network names accepted in the ``network`` option, and embit's name for each.
NETWORK_NAMES: dict[str, str] = {
    "mainnet": "main",
    "testnet": "test",
    "signet": "signet",
    "regtest": "regtest",
}

#: The receive (0) and change (1) chains of an account key.
CHAINS: tuple[int, ...] = (0, 1)

_ALIASES = {
    "legacy": "p2pkh",
    "bip44": "p2pkh",
    "p2wpkh-p2sh": "p2sh-p2wpkh",
    "nested-segwit": "p2sh-p2wpkh",
    "bip49": "p2sh-p2wpkh",
    "segwit": "p2wpkh",
    "native-segwit": "p2wpkh",
    "bip84": "p2wpkh",
    "taproot": "p2tr",
    "bip86": "p2tr",
}

# SLIP-132 version bytes of single-signature public keys: (network family, script type it implies).
# The plain xpub/tpub prefixes imply P2PKH but may carry another type (BIP86 taproot) when told.
_PUBLIC_VERSIONS: dict[str, tuple[str, str, bool]] = {
    "0488b21e": ("mainnet", "p2pkh", True),  # xpub
    "049d7cb2": ("mainnet", "p2sh-p2wpkh", False),  # ypub
    "04b24746": ("mainnet", "p2wpkh", False),  # zpub
    "043587cf": ("testnet", "p2pkh", True),  # tpub
    "044a5262": ("testnet", "p2sh-p2wpkh", False),  # upub
    "045f1cf6": ("testnet", "p2wpkh", False),  # vpub
}
_PRIVATE_VERSIONS = {
    "0488ade4",
    "049d7878",
    "04b2430c",
    "04358394",
    "044a4e28",
    "045f18bc",
    "0295b005",
    "02aa7a99",
    "024285b5",
    "02575048",
}
_MULTISIG_VERSIONS = {"0295b43f", "02aa7ed3", "024289ef", "02575483"}  # Ypub, Zpub, Upub, Vpub


def normalize_script_type(value: object) -> str:
    """The canonical script type for ``value`` (``"p2wpkh"``, or an alias such as ``"bip84"``)."""
    if not isinstance(value, str):
        raise ConfigurationError("script_type must be a string such as 'p2wpkh' or 'p2tr'")
    text = value.strip().lower().replace("_", "-")
    text = _ALIASES.get(text, text)
    if text not in SCRIPT_TYPES:
        raise ConfigurationError(
            f"unknown script_type {value!r}: use one of {', '.join(SCRIPT_TYPES)} (or bip44/49/84/86)"
        )
    return text


def _address_network(address: str) -> str:
    """The network family an address's prefix names (``mainnet``/``testnet``/``regtest``)."""
    lower = address.lower()
    if lower.startswith("bcrt1"):
        return "regtest"
    if lower.startswith("bc1") or address[:1] in ("1", "3"):
        return "mainnet"
    if lower.startswith("tb1") or address[:1] in ("m", "n", "2"):
        return "testnet"
    raise ConfigurationError("not a Bitcoin address or extended public key (unknown prefix)")


def _script_for(script_type: str, key: object) -> object:
    if script_type == "p2pkh":
        return script.p2pkh(key)
    if script_type == "p2sh-p2wpkh":
        return script.p2sh(script.p2wpkh(key))
    if script_type == "p2wpkh":
        return script.p2wpkh(key)
    return script.p2tr(key)  # BIP86: key-path only, no script tree


@dataclass
class WalletKeys:
    """What a user gave: one address, or an account's extended public key.

    ``address(chain, index)`` derives (and caches) the address at ``/chain/index``; for a single
    address there is only ``single``. The repr never shows the key (it would reveal every address).
    """

    kind: str  # "xpub" or "address"
    network: str  # mainnet / testnet / signet / regtest
    script_type: str | None = None
    single: str | None = None
    _account: object = field(default=None, repr=False)
    _chains: dict[int, object] = field(default_factory=dict, repr=False)
    _cache: dict[int, list[str]] = field(default_factory=dict, repr=False)

    @classmethod
    def parse(cls, value: str, *, script_type: str | None = None, network: str | None = None) -> WalletKeys:
        """Parse ``value`` (an address or an x/y/z/t/u/vpub). Raises :class:`ConfigurationError`
        with a message that never repeats the value."""
        if not isinstance(value, str) or not value.strip():
            raise ConfigurationError("give a Bitcoin address or an extended public key (xpub, ypub, zpub...)")
        text = value.strip()
        wanted_network = None
        if network is not None:
            if network not in NETWORK_NAMES:
                raise ConfigurationError(
                    f"unknown network {network!r}: use one of {', '.join(NETWORK_NAMES)}"
                )
            wanted_network = network
        wanted_type = normalize_script_type(script_type) if script_type is not None else None
        if text[1:4] in ("pub", "prv") and len(text) > 100:
            return cls._parse_extended(text, wanted_type, wanted_network)
        if wanted_type is not None:
            raise ConfigurationError("script_type applies to extended public keys, not to a single address")
        return cls._parse_address(text, wanted_network)

    @classmethod
    def _parse_extended(cls, text: str, wanted_type: str | None, wanted_network: str | None) -> WalletKeys:
        try:
            key = bip32.HDKey.from_string(text)
        except Exception:  # embit raises ValueError / EmbitError with the checksum bytes
            raise ConfigurationError(
                "the extended public key is invalid (bad checksum or length): copy it again from the wallet"
            ) from None
        version = bytes(key.version).hex()
        if key.is_private or version in _PRIVATE_VERSIONS:
            raise ConfigurationError(
                "this is an extended PRIVATE key: never give it to txsync (it can spend the funds); "
                "export the account's extended public key (xpub/ypub/zpub) instead"
            )
        if version in _MULTISIG_VERSIONS:
            raise ConfigurationError("multisig extended keys (Ypub/Zpub) are not supported: give one address")
        known = _PUBLIC_VERSIONS.get(version)
        if known is None:
            raise ConfigurationError(
                "unknown extended public key version (not xpub/ypub/zpub/tpub/upub/vpub)"
            )
        family, implied, overridable = known
        script_type = implied
        if wanted_type is not None and wanted_type != implied:
            if not overridable:
                raise ConfigurationError(
                    f"the key's prefix means {implied}, which contradicts script_type={wanted_type!r}: "
                    "give the key with the plain xpub/tpub prefix, or drop script_type"
                )
            script_type = wanted_type
        network = wanted_network or family
        if (network == "mainnet") != (family == "mainnet"):
            raise ConfigurationError(f"this is a {family} key; it cannot be used on {network}")
        return cls(kind="xpub", network=network, script_type=script_type, _account=key)

    @classmethod
    def _parse_address(cls, text: str, wanted_network: str | None) -> WalletKeys:
        family = _address_network(text)
        if text.lower().startswith(("bc1", "tb1", "bcrt1")):
            if text != text.lower() and text != text.upper():
                raise ConfigurationError("the address is invalid (mixed case): copy it again")
            text = text.lower()  # BIP173: an all-upper-case bech32 address is the same address
        network = wanted_network or family
        if family == "testnet" and network == "signet":
            family = "signet"
        if family != network:
            raise ConfigurationError(f"this is a {family} address; it cannot be used on {network}")
        try:
            spk = script.address_to_scriptpubkey(text)
            canonical = spk.address(NETWORKS[NETWORK_NAMES[network]])
        except Exception:
            raise ConfigurationError(
                "the address is invalid (bad checksum or encoding): copy it again"
            ) from None
        if canonical != text:
            raise ConfigurationError("the address is invalid for its network: copy it again")
        return cls(kind="address", network=network, single=canonical)

    def address(self, chain: int, index: int) -> str:
        """The address at ``/chain/index`` of the account key (derived once, then cached)."""
        if self.kind != "xpub":
            raise ConfigurationError("a single-address wallet derives no addresses")
        cache = self._cache.setdefault(chain, [])
        if index < len(cache):
            return cache[index]
        parent = self._chains.get(chain)
        if parent is None:
            parent = self._chains[chain] = self._account.child(chain)  # type: ignore[attr-defined]
        net = NETWORKS[NETWORK_NAMES[self.network]]
        assert self.script_type is not None
        for i in range(len(cache), index + 1):
            child = parent.child(i)  # type: ignore[attr-defined]
            cache.append(_script_for(self.script_type, child.key).address(net))  # type: ignore[attr-defined]
        return cache[index]

    def describe(self) -> str:
        """A short description for messages ("p2wpkh xpub on mainnet"), never the key itself."""
        if self.kind == "address":
            return f"single address on {self.network}"
        return f"{self.script_type} extended public key on {self.network}"
