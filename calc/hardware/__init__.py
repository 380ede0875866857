"""Hardware profiles as data: one YAML file per device (calc/hardware/profiles/), each figure
with its unit and its source, read exactly into a frozen `Profile` (see calc.hardware.profile).

    >>> from calc.hardware import load_profile
    >>> load_profile("h100-sxm").peak_for("bf16")
    989400000000000
"""

from calc.hardware.profile import PEAK_DTYPES, Profile, load_profile, profile_names

__all__ = ["PEAK_DTYPES", "Profile", "load_profile", "profile_names"]
