"""The simulator's NEM facility catalogue: real facilities, approximate figures.

Plain data written from general public knowledge of the NEM fleet (AEMO registrations, news,
company sites), not copied from any API response. Names and regions are real; locations are
approximate (within about 20 km) and capacities and emission factors are rounded, so don't use
them for anything but the simulator. Codes follow OE's style: the facility code is a short
upper-case name (``BAYSW``) and unit codes are DUID-like (``BW01``).

One ``F(...)`` per facility, one ``U(...)`` per unit: ``U(code, fueltech_id, MW, tCO2/MWh)``.
``battery(prefix, MW)`` expands to the bidirectional unit ``<prefix>1`` plus, with
``split=True``, the derived ``<prefix>G1`` (discharging) and ``<prefix>L1`` (charging) units,
which is how OE exposes many batteries. Regions: NSW1 (with the ACT), QLD1, VIC1, SA1, TAS1.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Status = Literal["operating", "committed", "retired"]
DispatchType = Literal["GENERATOR", "LOAD", "BIDIRECTIONAL"]


@dataclass(frozen=True, slots=True)
class Unit:
    """One unit: capacity in MW, emission factor in t CO2-e per MWh (None = none)."""

    code: str
    fueltech_id: str
    capacity_mw: float
    emissions_factor: float | None = None
    status: Status = "operating"
    storage_mwh: float | None = None

    @property
    def dispatch_type(self) -> DispatchType:
        if self.fueltech_id == "battery":
            return "BIDIRECTIONAL"
        # OE lists pumped-hydro pumps as GENERATOR (their registration), although the
        # series is a load; only the charging side of a split battery is LOAD.
        if self.fueltech_id == "battery_charging":
            return "LOAD"
        return "GENERATOR"


@dataclass(frozen=True, slots=True)
class Facility:
    """One facility: location in degrees (WGS84), units in the order OE would list them."""

    code: str
    name: str
    region: str
    lat: float
    lon: float
    units: tuple[Unit, ...]
    description: str | None = None


def U(
    code: str, fueltech_id: str, mw: float, ef: float | None = None, status: Status = "operating"
) -> Unit:
    return Unit(code, fueltech_id, float(mw), ef, status)


def F(
    code: str,
    name: str,
    region: str,
    lat: float,
    lon: float,
    *units: Unit | tuple[Unit, ...],
    description: str | None = None,
) -> Facility:
    flat: list[Unit] = []
    for u in units:
        flat.extend(u if isinstance(u, tuple) else (u,))
    return Facility(code, name, region, lat, lon, tuple(flat), description)


def battery(prefix: str, mw: float, hours: float = 2.0, split: bool = False) -> tuple[Unit, ...]:
    """A battery's units: bidirectional ``<prefix>1`` (storage ``hours`` × MW, in MWh), plus
    the derived ``<prefix>G1`` (discharging) and ``<prefix>L1`` (charging) units if ``split``."""
    units = [Unit(f"{prefix}1", "battery", float(mw), storage_mwh=float(mw) * hours)]
    if split:
        units += [
            U(f"{prefix}G1", "battery_discharging", mw),
            U(f"{prefix}L1", "battery_charging", mw),
        ]
    return tuple(units)


# fmt: off
NSW: tuple[Facility, ...] = (
    # Black coal
    F("BAYSW", "Bayswater", "NSW1", -32.39, 150.95,
      U("BW01", "coal_black", 660, 0.89), U("BW02", "coal_black", 660, 0.89),
      U("BW03", "coal_black", 660, 0.89), U("BW04", "coal_black", 660, 0.89)),
    F("ERARING", "Eraring", "NSW1", -33.06, 151.52,
      U("ER01", "coal_black", 720, 0.90), U("ER02", "coal_black", 720, 0.90),
      U("ER03", "coal_black", 720, 0.90), U("ER04", "coal_black", 720, 0.90)),
    F("MP", "Mt Piper", "NSW1", -33.36, 150.03,
      U("MP1", "coal_black", 700, 0.88), U("MP2", "coal_black", 700, 0.88)),
    F("VP", "Vales Point B", "NSW1", -33.16, 151.54,
      U("VP5", "coal_black", 660, 0.92), U("VP6", "coal_black", 660, 0.92)),
    F("LIDDELL", "Liddell", "NSW1", -32.37, 150.98,
      U("LD01", "coal_black", 500, 1.00, "retired"), U("LD02", "coal_black", 500, 1.00, "retired"),
      U("LD03", "coal_black", 500, 1.00, "retired"), U("LD04", "coal_black", 500, 1.00, "retired"),
      description="Closed in April 2023."),
    # Gas
    F("TALLAWAR", "Tallawarra", "NSW1", -34.52, 150.81,
      U("TALWA1", "gas_ccgt", 440, 0.40), U("TALWB1", "gas_ocgt", 320, 0.60)),
    F("URANQ", "Uranquinty", "NSW1", -35.19, 147.24,
      U("URANQ11", "gas_ocgt", 166, 0.68), U("URANQ12", "gas_ocgt", 166, 0.68),
      U("URANQ13", "gas_ocgt", 166, 0.68), U("URANQ14", "gas_ocgt", 166, 0.68)),
    F("COLONGRA", "Colongra", "NSW1", -33.21, 151.54,
      U("CG1", "gas_ocgt", 181, 0.65), U("CG2", "gas_ocgt", 181, 0.65),
      U("CG3", "gas_ocgt", 181, 0.65), U("CG4", "gas_ocgt", 181, 0.65)),
    F("HUNTER", "Hunter Power Station (Kurri Kurri)", "NSW1", -32.80, 151.48,
      U("HUNTER1", "gas_ocgt", 330, 0.60, "committed"),
      U("HUNTER2", "gas_ocgt", 330, 0.60, "committed"),
      description="Dual-fuel peaking plant, under construction."),
    # Hydro and pumped hydro
    F("TUMUT3", "Tumut 3", "NSW1", -35.61, 148.29,
      U("TUMUT3", "hydro", 1800), U("SNOWYP", "pumps", 600)),
    F("SNOWY2", "Upper Tumut", "NSW1", -35.93, 148.37, U("UPPTUMUT", "hydro", 616)),
    F("SNOWY6", "Blowering", "NSW1", -35.40, 148.25, U("BLOWERNG", "hydro", 80)),
    F("SNOWY3", "Guthega", "NSW1", -36.38, 148.37, U("GUTHEGA", "hydro", 60)),
    F("SHOALHAV", "Shoalhaven (Kangaroo Valley and Bendeela)", "NSW1", -34.72, 150.50,
      U("SHGEN", "hydro", 240), U("SHPUMP", "pumps", 240)),
    # Wind
    F("BOCOROCK", "Boco Rock Wind Farm", "NSW1", -36.55, 149.10, U("BOCORWF1", "wind", 113)),
    F("BANGOWF", "Bango Wind Farm", "NSW1", -34.73, 148.85, U("BANGOWF1", "wind", 244)),
    F("SAPHWF1", "Sapphire Wind Farm", "NSW1", -29.73, 151.45, U("SAPHWF1", "wind", 270)),
    F("WRWF1", "White Rock Wind Farm", "NSW1", -29.78, 151.54, U("WRWF1", "wind", 175)),
    F("STWF", "Silverton Wind Farm", "NSW1", -31.88, 141.30, U("STWF1", "wind", 199)),
    F("GULLRGWF", "Gullen Range Wind Farm", "NSW1", -34.65, 149.45, U("GULLRWF1", "wind", 166)),
    F("CAPTL_WF", "Capital Wind Farm", "NSW1", -35.17, 149.52, U("CAPTL_WF", "wind", 141)),
    F("CROOKWF2", "Crookwell 2 Wind Farm", "NSW1", -34.52, 149.53, U("CROOKWF2", "wind", 96)),
    F("TARALGA", "Taralga Wind Farm", "NSW1", -34.43, 149.83, U("TARALGA1", "wind", 107)),
    F("RYEPARK", "Rye Park Wind Farm", "NSW1", -34.53, 148.95, U("RYEPARK1", "wind", 396)),
    F("COLWF01", "Collector Wind Farm", "NSW1", -34.90, 149.42, U("COLWF01", "wind", 227)),
    F("BODWF", "Bodangora Wind Farm", "NSW1", -32.45, 148.95, U("BODWF1", "wind", 113)),
    F("CRURWF1", "Crudine Ridge Wind Farm", "NSW1", -32.93, 149.69, U("CRURWF1", "wind", 135)),
    F("WOODLWN", "Woodlawn Wind Farm", "NSW1", -35.09, 149.57, U("WOODLWN1", "wind", 48)),
    F("CULLERIN", "Cullerin Range Wind Farm", "NSW1", -34.80, 149.40, U("CULLRGWF", "wind", 30)),
    # Utility solar (Royalla and Mugga Lane are in the ACT, part of NSW1)
    F("NYNGAN", "Nyngan Solar Plant", "NSW1", -31.56, 147.08, U("NYNGAN1", "solar_utility", 102)),
    F("BROKENH", "Broken Hill Solar Plant", "NSW1", -31.98, 141.42,
      U("BROKENH1", "solar_utility", 53)),
    F("DARLSF", "Darlington Point Solar Farm", "NSW1", -34.62, 146.03,
      U("DARLSF1", "solar_utility", 275)),
    F("LIMOSF1", "Limondale Solar Farm", "NSW1", -34.67, 143.56, U("LIMOSF11", "solar_utility", 249)),
    F("FINLEYSF", "Finley Solar Farm", "NSW1", -35.65, 145.59, U("FINLYSF1", "solar_utility", 133)),
    F("COLEASF", "Coleambally Solar Farm", "NSW1", -34.79, 145.93,
      U("COLEASF1", "solar_utility", 150)),
    F("BERYLSF", "Beryl Solar Farm", "NSW1", -32.35, 149.45, U("BERYLSF1", "solar_utility", 87)),
    F("MANSLR", "Manildra Solar Farm", "NSW1", -33.19, 148.69, U("MANSLR1", "solar_utility", 46)),
    F("PSF", "Parkes Solar Farm", "NSW1", -33.14, 148.14, U("PARSF1", "solar_utility", 55)),
    F("NEWENSF", "New England Solar Farm", "NSW1", -30.60, 151.70,
      U("NEWENSF1", "solar_utility", 400), battery("0NEWENBESS", 50, 1.0, split=True)),
    F("WELLSF1", "Wellington Solar Farm", "NSW1", -32.59, 148.95, U("WELLSF1", "solar_utility", 174)),
    F("GRIFSF", "Griffith Solar Farm", "NSW1", -34.28, 146.05, U("GRIFSF1", "solar_utility", 30)),
    F("MOREESF", "Moree Solar Farm", "NSW1", -29.47, 149.82, U("MOREESF1", "solar_utility", 56)),
    F("ROYALLA", "Royalla Solar Farm", "NSW1", -35.51, 149.14, U("ROYALLA1", "solar_utility", 20)),
    F("MLSP", "Mugga Lane Solar Park", "NSW1", -35.40, 149.14, U("MLSP1", "solar_utility", 13)),
    # Batteries
    F("WTAHB", "Waratah Super Battery", "NSW1", -33.11, 151.57, battery("WTAHB", 850, 2.0, split=True)),
    F("WALGRV", "Wallgrove Grid Battery", "NSW1", -33.83, 150.82, battery("WALGRV", 50)),
    F("RIVNB", "Riverina Energy Storage System", "NSW1", -34.63, 146.05,
      battery("RIVNB", 150, split=True)),
    F("BHB", "Broken Hill Battery", "NSW1", -31.97, 141.44, battery("BHB", 50)),
    # Bioenergy
    F("BWTR1", "Broadwater Sugar Mill", "NSW1", -29.02, 153.40,
      U("BWTR1", "bioenergy_biomass", 38, 0.02)),
    F("LUCAS2S2", "Lucas Heights Landfill", "NSW1", -34.05, 150.98,
      U("LUCAS2S2", "bioenergy_biogas", 12, 0.05)),
    F("EASTCRK", "Eastern Creek Landfill Gas", "NSW1", -33.80, 150.87,
      U("EASTCRK", "bioenergy_biogas", 6, 0.05)),
    F("WDLNGN", "Woodlawn Bioreactor", "NSW1", -35.11, 149.60,
      U("WDLNGN01", "bioenergy_biogas", 6, 0.05)),
    # Added for a fleet of the NEM's real size: more wind, solar, batteries and gas
    F("SITHE", "Smithfield Energy Facility", "NSW1", -33.85, 150.94,
      U("SITHE01", "gas_ccgt", 171, 0.50)),
    F("ERGT01", "Eraring Gas Turbine", "NSW1", -33.07, 151.53, U("ERGT01", "distillate", 42, 0.85)),
    F("BIALAWF", "Biala Wind Farm", "NSW1", -34.55, 149.38, U("GULLRWF2", "wind", 110)),
    F("GUNNING", "Gunning Wind Farm", "NSW1", -34.78, 149.30, U("GUNNING1", "wind", 47)),
    F("SUNRSF1", "Sunraysia Solar Farm", "NSW1", -34.63, 143.62, U("SUNRSF1", "solar_utility", 200)),
    F("BOMENSF", "Bomen Solar Farm", "NSW1", -35.06, 147.41, U("BOMENSF1", "solar_utility", 100)),
    F("GOONUMSF", "Goonumbla Solar Farm", "NSW1", -33.05, 148.15,
      U("GOONSF1", "solar_utility", 70)),
    F("NEVERSF", "Nevertire Solar Farm", "NSW1", -31.80, 147.70, U("NEVERSF1", "solar_utility", 105)),
    F("GNNDHSF", "Gunnedah Solar Farm", "NSW1", -30.98, 150.30, U("GNNDHSF1", "solar_utility", 110)),
    F("HILLSTN", "Hillston Sun Farm", "NSW1", -33.48, 145.53, U("HILLSTN1", "solar_utility", 85)),
    F("SEBSF", "Sebastopol Solar Farm", "NSW1", -34.70, 147.55, U("SEBSF1", "solar_utility", 90)),
    F("SUNTPSF", "Suntop Solar Farm", "NSW1", -32.57, 148.82, U("SUNTPSF1", "solar_utility", 150)),
    F("WELNSF", "Wellington North Solar Farm", "NSW1", -32.52, 148.95,
      U("WELNSF1", "solar_utility", 330)),
    F("JEMALNG1", "Jemalong Solar", "NSW1", -33.42, 147.75, U("JEMALNG1", "solar_utility", 50)),
    F("AVLSF", "Avonlie Solar Farm", "NSW1", -34.72, 146.45, U("AVLSF1", "solar_utility", 200)),
    F("WLWLSF", "Walla Walla Solar Farm", "NSW1", -35.78, 146.90,
      U("WLWLSF1", "solar_utility", 300)),
    F("STUBSF", "Stubbo Solar Farm", "NSW1", -32.27, 149.55, U("STUBSF1", "solar_utility", 400)),
    F("CULCSF", "Culcairn Solar Farm", "NSW1", -35.68, 147.05, U("CUSF1", "solar_utility", 350)),
    F("WOLARSF", "Wollar Solar Farm", "NSW1", -32.36, 149.95, U("WOLARSF1", "solar_utility", 280)),
    F("ERB", "Eraring Battery", "NSW1", -33.06, 151.51,
      Unit("ERB01", "battery", 460.0, storage_mwh=1_073.0)),
    F("0LIDDELLBESS", "Liddell Battery", "NSW1", -32.37, 150.97,
      battery("0LIDDELLBESS", 500, 2.0, split=True)),
    F("SMTHBES1", "Smithfield Battery", "NSW1", -33.85, 150.95,
      Unit("SMTHBES1", "battery", 65.0, storage_mwh=130.0)),
    F("LIMBESS", "Limondale Battery", "NSW1", -34.67, 143.57, battery("LIMBESS", 50, 8.0, split=True)),
)

QLD: tuple[Facility, ...] = (
    # Black coal
    F("GSTONE", "Gladstone", "QLD1", -23.85, 151.30,
      U("GSTONE1", "coal_black", 280, 0.95), U("GSTONE2", "coal_black", 280, 0.95),
      U("GSTONE3", "coal_black", 280, 0.95), U("GSTONE4", "coal_black", 280, 0.95),
      U("GSTONE5", "coal_black", 280, 0.95), U("GSTONE6", "coal_black", 280, 0.95)),
    F("STANWELL", "Stanwell", "QLD1", -23.51, 150.32,
      U("STAN-1", "coal_black", 365, 0.90), U("STAN-2", "coal_black", 365, 0.90),
      U("STAN-3", "coal_black", 365, 0.90), U("STAN-4", "coal_black", 365, 0.90)),
    F("TARONG", "Tarong", "QLD1", -26.78, 151.92,
      U("TARONG1", "coal_black", 350, 0.90), U("TARONG2", "coal_black", 350, 0.90),
      U("TARONG3", "coal_black", 350, 0.90), U("TARONG4", "coal_black", 350, 0.90)),
    F("TARONGN", "Tarong North", "QLD1", -26.79, 151.90, U("TNPS1", "coal_black", 443, 0.81)),
    F("CALL_B", "Callide B", "QLD1", -24.35, 150.62,
      U("CALL_B_1", "coal_black", 350, 0.93), U("CALL_B_2", "coal_black", 350, 0.93)),
    F("CALLIDEC1", "Callide C", "QLD1", -24.34, 150.61,
      U("CPP_3", "coal_black", 420, 0.86), U("CPP_4", "coal_black", 420, 0.86)),
    F("KOGANCK", "Kogan Creek", "QLD1", -26.92, 150.75, U("KPP_1", "coal_black", 744, 0.82)),
    F("MILLMERN", "Millmerran", "QLD1", -27.96, 151.27,
      U("MPP_1", "coal_black", 426, 0.85), U("MPP_2", "coal_black", 426, 0.85)),
    # Gas and distillate
    F("DDPS1", "Darling Downs", "QLD1", -27.08, 150.88, U("DDPS1", "gas_ccgt", 644, 0.42)),
    F("BRAEMARA", "Braemar", "QLD1", -27.11, 150.90,
      U("BRAEMAR1", "gas_ocgt", 168, 0.62), U("BRAEMAR2", "gas_ocgt", 168, 0.62),
      U("BRAEMAR3", "gas_ocgt", 168, 0.62)),
    F("CPSA", "Condamine", "QLD1", -26.72, 150.25, U("CPSA", "gas_ccgt", 144, 0.45)),
    F("OAKEY", "Oakey", "QLD1", -27.44, 151.68,
      U("OAKEY1", "gas_ocgt", 141, 0.65), U("OAKEY2", "gas_ocgt", 141, 0.65)),
    F("SWAN_E", "Swanbank E", "QLD1", -27.66, 152.81, U("SWAN_E", "gas_ccgt", 385, 0.40)),
    F("ROMA", "Roma", "QLD1", -26.56, 148.77,
      U("ROMA_7", "gas_ocgt", 40, 0.70), U("ROMA_8", "gas_ocgt", 40, 0.70)),
    F("YARWUN", "Yarwun Cogeneration", "QLD1", -23.83, 151.15, U("YARWUN_1", "gas_ccgt", 160, 0.45)),
    F("YABULU", "Townsville (Yabulu)", "QLD1", -19.21, 146.60, U("YABULU", "gas_ccgt", 242, 0.45)),
    F("BARCALDN", "Barcaldine", "QLD1", -23.55, 145.28, U("BARCALDN", "gas_ocgt", 55, 0.60)),
    F("DAANDINE", "Daandine", "QLD1", -27.18, 150.95, U("DAANDINE", "gas_recip", 30, 0.55)),
    F("MSTUART", "Mt Stuart", "QLD1", -19.35, 146.85,
      U("MSTUART1", "distillate", 146, 0.80), U("MSTUART2", "distillate", 146, 0.80),
      U("MSTUART3", "distillate", 131, 0.80)),
    F("MACKAY", "Mackay Gas Turbine", "QLD1", -21.16, 149.12, U("MACKAYGT", "distillate", 34, 0.85)),
    # Hydro and pumped hydro
    F("WIVENHOE", "Wivenhoe", "QLD1", -27.40, 152.62,
      U("WHOE1", "hydro", 285), U("WHOE2", "hydro", 285),
      U("PUMP1", "pumps", 250), U("PUMP2", "pumps", 250)),
    F("BARRON", "Barron Gorge", "QLD1", -16.86, 145.63, U("BARRON-1", "hydro", 66)),
    F("KAREEYA", "Kareeya", "QLD1", -17.77, 145.58, U("KAREEYA1", "hydro", 88)),
    # Wind
    F("COOPGWF", "Coopers Gap Wind Farm", "QLD1", -26.72, 151.46, U("COOPGWF1", "wind", 453)),
    F("MEWF", "Mount Emerald Wind Farm", "QLD1", -17.18, 145.38, U("MEWF1", "wind", 180)),
    F("DULAWF", "Dulacca Wind Farm", "QLD1", -26.65, 149.72, U("DULAWF1", "wind", 181)),
    F("KABANWF", "Kaban Wind Farm", "QLD1", -17.50, 145.35, U("KABANWF1", "wind", 157)),
    F("MCINTYR", "MacIntyre Wind Farm", "QLD1", -28.35, 151.55, U("MCINTYR1", "wind", 923)),
    F("CLRKCWF", "Clarke Creek Wind Farm", "QLD1", -22.75, 149.35, U("CLRKCWF1", "wind", 450)),
    F("KENNEDY", "Kennedy Energy Park", "QLD1", -20.60, 144.25,
      U("KEPWF1", "wind", 43), U("KEPSF1", "solar_utility", 15), battery("KEPB", 2)),
    # Utility solar
    F("DAYDSF", "Daydream Solar Farm", "QLD1", -20.55, 147.83, U("DAYDSF1", "solar_utility", 150)),
    F("CLARESF", "Clare Solar Farm", "QLD1", -19.83, 147.22, U("CLARESF1", "solar_utility", 100)),
    F("WDGPH", "Western Downs Green Power Hub", "QLD1", -26.85, 150.64,
      U("WDGPH1", "solar_utility", 400)),
    F("DDSF", "Darling Downs Solar Farm", "QLD1", -27.06, 150.93, U("DDSF1", "solar_utility", 110)),
    F("SMCSF", "Sun Metals Solar Farm", "QLD1", -19.30, 146.90, U("SMCSF1", "solar_utility", 124)),
    F("RRSF", "Ross River Solar Farm", "QLD1", -19.43, 146.74, U("RRSF1", "solar_utility", 128)),
    F("SRSF", "Susan River Solar Farm", "QLD1", -25.43, 152.62, U("SRSF1", "solar_utility", 75)),
    F("CSPVPS", "Collinsville Solar Farm", "QLD1", -20.57, 147.87, U("CSPVPS1", "solar_utility", 42)),
    F("EMERASF", "Emerald Solar Farm", "QLD1", -23.55, 148.17, U("EMERASF1", "solar_utility", 72)),
    F("LILYVASF", "Lilyvale Solar Farm", "QLD1", -23.05, 148.28, U("LILYSF1", "solar_utility", 100)),
    F("CHILDSF", "Childers Solar Farm", "QLD1", -25.24, 152.27, U("CHILDSF1", "solar_utility", 56)),
    F("WARWSF", "Warwick Solar Farm", "QLD1", -28.22, 152.01, U("WARWSF1", "solar_utility", 64)),
    F("YARANSF", "Yarranlea Solar Farm", "QLD1", -27.62, 151.52, U("YARANSF1", "solar_utility", 103)),
    F("KSP1", "Kidston Solar Project", "QLD1", -18.88, 144.15, U("KSP1", "solar_utility", 50)),
    # Batteries
    F("WANDBG", "Wandoan South BESS", "QLD1", -26.17, 149.95, battery("WANDB", 100, split=True)),
    F("BBATTERY", "Bouldercombe Battery", "QLD1", -23.53, 150.48, battery("BBATTERY", 50)),
    F("CHBESS", "Chinchilla Battery", "QLD1", -26.76, 150.67, battery("CHBESS", 100)),
    F("0SWANBBESS", "Swanbank Battery", "QLD1", -27.65, 152.80, battery("0SWANBBESS", 250, split=True)),
    # Bioenergy
    F("PIONEER", "Pioneer Sugar Mill", "QLD1", -19.57, 147.35,
      U("PIONEER", "bioenergy_biomass", 68, 0.02)),
    F("INVICTA", "Invicta Sugar Mill", "QLD1", -19.61, 147.15,
      U("INVICTA", "bioenergy_biomass", 50, 0.02)),
    F("RPCG", "Rocky Point Green Energy", "QLD1", -27.76, 153.24,
      U("RPCG", "bioenergy_biomass", 30, 0.03)),
    F("ROCHEDAL", "Rochedale Renewable Energy", "QLD1", -27.57, 153.13,
      U("ROCHEDAL", "bioenergy_biogas", 4, 0.05)),
    # Added for a fleet of the NEM's real size
    F("B2PS", "Braemar 2", "QLD1", -27.11, 150.91,
      U("BRAEMAR5", "gas_ocgt", 173, 0.62), U("BRAEMAR6", "gas_ocgt", 173, 0.62),
      U("BRAEMAR7", "gas_ocgt", 173, 0.62)),
    F("0WAMBOWF", "Wambo Wind Farm", "QLD1", -26.75, 151.15, U("WAMBOWF1", "wind", 252)),
    F("OAKEY2SF", "Oakey 2 Solar Farm", "QLD1", -27.45, 151.63, U("OAKEY2SF", "solar_utility", 55)),
    F("HAUGHT1", "Haughton Solar Farm", "QLD1", -19.62, 147.10, U("HAUGHT11", "solar_utility", 100)),
    F("HAMISF", "Hamilton Solar Farm", "QLD1", -20.53, 147.86, U("HAMISF1", "solar_utility", 57)),
    F("WHITSF", "Whitsunday Solar Farm", "QLD1", -20.50, 147.90, U("WHITSF1", "solar_utility", 57)),
    F("COLUMSF", "Columboola Solar Farm", "QLD1", -26.68, 150.30,
      U("COLUMSF1", "solar_utility", 162)),
    F("EDENVSF", "Edenvale Solar Park", "QLD1", -27.00, 150.75, U("EDENVSF1", "solar_utility", 146)),
    F("GANGARR", "Gangarri Solar Farm", "QLD1", -26.15, 149.90, U("GANGARR1", "solar_utility", 120)),
    F("ALDGASF", "Aldoga Solar Farm", "QLD1", -23.85, 151.08, U("ALDGASF1", "solar_utility", 380)),
    F("WOOLGSF", "Woolooga Solar Farm", "QLD1", -26.05, 152.40, U("WOOLGSF1", "solar_utility", 176)),
    F("RUGBYR", "Rugby Run Solar Farm", "QLD1", -22.05, 148.10, U("RUGBYR1", "solar_utility", 65)),
    F("WDBESS", "Western Downs Battery", "QLD1", -26.86, 150.64, battery("WDBESS", 200, 2.0, split=True)),
    F("ULBESS", "Ulinda Park Battery", "QLD1", -26.90, 150.55, battery("ULPBESS", 155, 2.0, split=True)),
    F("0TARONGBESS", "Tarong Battery", "QLD1", -26.77, 151.93,
      battery("TARBESS", 300, 2.0, split=True)),
    F("GREENB", "Greenbank Battery", "QLD1", -27.72, 152.98, battery("GREENB", 200, 2.0)),
    F("SNB1", "Supernode Battery", "QLD1", -27.32, 152.98,
      Unit("SNB01", "battery", 250.0, storage_mwh=500.0)),
    F("0STANBESS", "Stanwell Battery", "QLD1", -23.52, 150.33,
      battery("0STANBESS", 300, 4.0, split=True)),
)

VIC: tuple[Facility, ...] = (
    # Brown coal
    F("LOYYANGA", "Loy Yang A", "VIC1", -38.26, 146.58,
      U("LYA1", "coal_brown", 560, 1.17), U("LYA2", "coal_brown", 530, 1.17),
      U("LYA3", "coal_brown", 560, 1.17), U("LYA4", "coal_brown", 560, 1.17)),
    F("LOYYB", "Loy Yang B", "VIC1", -38.25, 146.56,
      U("LOYYB1", "coal_brown", 535, 1.15), U("LOYYB2", "coal_brown", 535, 1.15)),
    F("YALLOURN", "Yallourn W", "VIC1", -38.18, 146.33,
      U("YWPS1", "coal_brown", 360, 1.25), U("YWPS2", "coal_brown", 360, 1.25),
      U("YWPS3", "coal_brown", 380, 1.25), U("YWPS4", "coal_brown", 380, 1.25)),
    # Gas
    F("MORTLK", "Mortlake", "VIC1", -38.08, 142.80,
      U("MORTLK11", "gas_ocgt", 283, 0.58), U("MORTLK12", "gas_ocgt", 283, 0.58)),
    F("NEWPORT", "Newport", "VIC1", -37.84, 144.89, U("NPS", "gas_steam", 510, 0.55)),
    F("JEERA", "Jeeralang", "VIC1", -38.27, 146.42,
      U("JLA01", "gas_ocgt", 51, 0.75), U("JLA02", "gas_ocgt", 51, 0.75),
      U("JLA03", "gas_ocgt", 51, 0.75), U("JLA04", "gas_ocgt", 51, 0.75),
      U("JLB01", "gas_ocgt", 76, 0.72), U("JLB02", "gas_ocgt", 76, 0.72),
      U("JLB03", "gas_ocgt", 76, 0.72)),
    F("LNGS", "Laverton North", "VIC1", -37.84, 144.79,
      U("LNGS1", "gas_ocgt", 156, 0.64), U("LNGS2", "gas_ocgt", 156, 0.64)),
    F("DEIBDL", "Bairnsdale", "VIC1", -37.82, 147.60,
      U("BDL01", "gas_ocgt", 47, 0.62), U("BDL02", "gas_ocgt", 47, 0.62)),
    F("VPGS", "Valley Power", "VIC1", -38.24, 146.50,
      U("VPGS1", "gas_ocgt", 50, 0.70), U("VPGS2", "gas_ocgt", 50, 0.70),
      U("VPGS3", "gas_ocgt", 50, 0.70), U("VPGS4", "gas_ocgt", 50, 0.70),
      U("VPGS5", "gas_ocgt", 50, 0.70), U("VPGS6", "gas_ocgt", 50, 0.70)),
    F("AGLSOM", "Somerton", "VIC1", -37.63, 144.95, U("AGLSOM", "gas_ocgt", 160, 0.72)),
    # Hydro
    F("DARTM", "Dartmouth", "VIC1", -36.55, 147.50, U("DARTM1", "hydro", 185)),
    F("MCKAY", "McKay Creek", "VIC1", -36.80, 147.24, U("MCKAY1", "hydro", 150)),
    F("EILDON", "Eildon", "VIC1", -37.22, 145.92, U("EILDON1", "hydro", 60), U("EILDON2", "hydro", 60)),
    # Wind
    F("MACARTH", "Macarthur Wind Farm", "VIC1", -38.05, 142.20, U("MACARTH1", "wind", 420)),
    F("ARWF", "Ararat Wind Farm", "VIC1", -37.22, 142.93, U("ARWF1", "wind", 240)),
    F("MOORAWF1", "Moorabool Wind Farm", "VIC1", -37.62, 144.08, U("MOORAWF1", "wind", 312)),
    F("STOCKYD", "Stockyard Hill Wind Farm", "VIC1", -37.61, 143.31, U("STOCKYD1", "wind", 530)),
    F("DUNDWF", "Dundonnell Wind Farm", "VIC1", -37.84, 142.99, U("DUNDWF1", "wind", 336)),
    F("MUWAWF", "Murra Warra Wind Farm", "VIC1", -36.50, 142.50, U("MUWAWF1", "wind", 226),
      U("MUWAWF2", "wind", 209)),
    F("BULGANA", "Bulgana Green Power Hub", "VIC1", -37.05, 142.97,
      U("BULGANA1", "wind", 194), battery("BULGB", 20)),
    F("OAKLAND", "Oaklands Hill Wind Farm", "VIC1", -37.75, 142.57, U("OAKLAND1", "wind", 63)),
    F("BHWF", "Bald Hills Wind Farm", "VIC1", -38.70, 145.98, U("BALDHWF1", "wind", 107)),
    F("MTMERCER", "Mt Mercer Wind Farm", "VIC1", -37.80, 143.86, U("MERCER01", "wind", 131)),
    F("CROWLWF", "Crowlands Wind Farm", "VIC1", -37.15, 143.10, U("CROWLWF1", "wind", 80)),
    F("GPWFEST", "Golden Plains Wind Farm", "VIC1", -37.85, 143.75, U("GPWFEST1", "wind", 756)),
    F("CHALLWF", "Challicum Hills Wind Farm", "VIC1", -37.40, 143.10, U("CHALLHWF", "wind", 53)),
    # Utility solar
    F("NUMURKSF", "Numurkah Solar Farm", "VIC1", -36.09, 145.45, U("NUMURSF1", "solar_utility", 100)),
    F("KARSF", "Karadoc Solar Farm", "VIC1", -34.42, 142.30, U("KARSF1", "solar_utility", 90)),
    F("BANNSP", "Bannerton Solar Park", "VIC1", -34.70, 142.78, U("BANN1", "solar_utility", 88)),
    F("WEMENSF1", "Wemen Solar Farm", "VIC1", -34.80, 142.60, U("WEMENSF1", "solar_utility", 88)),
    F("KIAMSF1", "Kiamal Solar Farm", "VIC1", -34.98, 142.30, U("KIAMSF1", "solar_utility", 200)),
    F("GLRWNSF", "Glenrowan Solar Farm", "VIC1", -36.46, 146.22, U("GLRWNSF1", "solar_utility", 110)),
    F("WINTSF1", "Winton Solar Farm", "VIC1", -36.52, 146.08, U("WINTSF1", "solar_utility", 85)),
    F("GANNSF", "Gannawarra Solar Farm", "VIC1", -35.68, 143.80,
      U("GANNSF1", "solar_utility", 50), battery("GANNB", 25, 2.0)),
    # Batteries
    F("VBB", "Victorian Big Battery", "VIC1", -37.95, 144.10, battery("VBB", 300, 1.5, split=True)),
    F("BALBESS", "Ballarat Energy Storage System", "VIC1", -37.56, 143.86, battery("BALB", 30)),
    F("RANGEB", "Rangebank BESS", "VIC1", -38.07, 145.25, battery("RANGEB", 200, 2.0)),
    F("KESS1", "Koorangie Energy Storage System", "VIC1", -35.95, 143.85,
      Unit("KESSB1", "battery", 185.0, storage_mwh=370.0),
      U("KESSG1", "battery_discharging", 185), U("KESSL1", "battery_charging", 185)),
    # Bioenergy
    F("BROADMDW", "Broadmeadows Landfill", "VIC1", -37.65, 144.93,
      U("BROADMDW", "bioenergy_biogas", 6, 0.05)),
    # Added for a fleet of the NEM's real size
    F("MURRAY", "Murray", "VIC1", -36.35, 148.05, U("MURRAY", "hydro", 1_500),
      description="Snowy scheme station near Khancoban, dispatched in the VIC1 region."),
    F("BRYB1WF1", "Berrybank Wind Farm", "VIC1", -37.88, 143.48,
      U("BRYB1WF1", "wind", 180), U("BRYB2WF2", "wind", 109)),
    F("MTGELWF", "Mt Gellibrand Wind Farm", "VIC1", -38.22, 143.78, U("MTGELWF1", "wind", 132)),
    F("YENDONWF", "Lal Lal Wind Farm (Yendon)", "VIC1", -37.63, 143.98, U("YENDWF1", "wind", 144)),
    F("ELAINEWF", "Lal Lal Wind Farm (Elaine)", "VIC1", -37.74, 144.02, U("ELAINWF1", "wind", 84)),
    F("RYANCWF", "Ryan Corner Wind Farm", "VIC1", -38.22, 142.25, U("RYANCWF1", "wind", 218)),
    F("HD1WF", "Hawkesdale Wind Farm", "VIC1", -38.08, 142.30, U("HD1WF1", "wind", 97)),
    F("MRTLSWF", "Mortlake South Wind Farm", "VIC1", -38.12, 142.78, U("MRTLSWF1", "wind", 158)),
    F("WAUBRAWF", "Waubra Wind Farm", "VIC1", -37.36, 143.64, U("WAUBRAWF", "wind", 192)),
    F("PORTWF", "Portland Wind Energy Project", "VIC1", -38.33, 141.55, U("PORTWF", "wind", 195)),
    F("SALTCRK", "Salt Creek Wind Farm", "VIC1", -37.95, 142.70, U("SALTCRK1", "wind", 54)),
    F("KIATAWF", "Kiata Wind Farm", "VIC1", -36.38, 141.80, U("KIATAWF1", "wind", 31)),
    F("CHYTWF", "Cherry Tree Wind Farm", "VIC1", -37.07, 145.20, U("CHYTWF1", "wind", 58)),
    F("YSWF", "Yaloak South Wind Farm", "VIC1", -37.67, 144.30, U("YSWF1", "wind", 29)),
    F("YATSF1", "Yatpool Solar Farm", "VIC1", -34.33, 142.18, U("YATSF1", "solar_utility", 81)),
    F("GIRGSF", "Girgarre Solar Farm", "VIC1", -36.40, 144.98, U("GIRGSF", "solar_utility", 93)),
    F("COHUNSF1", "Cohuna Solar Farm", "VIC1", -35.82, 144.22, U("COHUNSF1", "solar_utility", 27)),
    F("HBESS", "Hazelwood Battery", "VIC1", -38.27, 146.39, battery("HBESS", 150, 1.0, split=True)),
)

SA: tuple[Facility, ...] = (
    # Gas and distillate
    F("TORRIS", "Torrens Island B", "SA1", -34.80, 138.53,
      U("TORRB1", "gas_steam", 200, 0.62), U("TORRB2", "gas_steam", 200, 0.62),
      U("TORRB3", "gas_steam", 200, 0.62), U("TORRB4", "gas_steam", 200, 0.62)),
    F("NPPPPS", "Pelican Point", "SA1", -34.77, 138.51, U("PPCCGT", "gas_ccgt", 478, 0.40)),
    F("OSBORNE", "Osborne", "SA1", -34.79, 138.52, U("OSB-AG", "gas_ccgt", 180, 0.48)),
    F("QUARANTN", "Quarantine", "SA1", -34.81, 138.53,
      U("QPS1", "gas_ocgt", 24, 0.75), U("QPS2", "gas_ocgt", 24, 0.75),
      U("QPS3", "gas_ocgt", 24, 0.75), U("QPS4", "gas_ocgt", 24, 0.75),
      U("QPS5", "gas_ocgt", 128, 0.62)),
    F("DRYCGT", "Dry Creek", "SA1", -34.83, 138.58,
      U("DRYCGT1", "gas_ocgt", 52, 0.75), U("DRYCGT2", "gas_ocgt", 52, 0.75),
      U("DRYCGT3", "gas_ocgt", 52, 0.75)),
    F("MINTARO", "Mintaro", "SA1", -33.90, 138.73, U("MINTARO", "gas_ocgt", 90, 0.70)),
    F("LADBROKE", "Ladbroke Grove", "SA1", -37.45, 140.85,
      U("LADBROK1", "gas_ocgt", 40, 0.68), U("LADBROK2", "gas_ocgt", 40, 0.68)),
    F("AGLHAL", "Hallett Power Station", "SA1", -33.35, 138.85, U("AGLHAL", "gas_ocgt", 228, 0.72)),
    F("BARKIPS", "Barker Inlet", "SA1", -34.79, 138.54,
      U("BARKIPS1", "gas_recip", 210, 0.48)),
    F("STANVAC", "Port Stanvac", "SA1", -35.11, 138.50, U("PTSTAN1", "distillate", 58, 0.78)),
    F("SNUG", "Snuggery", "SA1", -37.66, 140.45, U("SNUG1", "distillate", 63, 0.82)),
    F("PORTLCN", "Port Lincoln", "SA1", -34.70, 135.85, U("POR01", "distillate", 73, 0.82)),
    # Wind
    F("HORNSDAL", "Hornsdale Wind Farm", "SA1", -33.07, 138.53,
      U("HDWF1", "wind", 102), U("HDWF2", "wind", 102), U("HDWF3", "wind", 111)),
    F("SNOWTOWN", "Snowtown Wind Farm", "SA1", -33.70, 138.15,
      U("SNOWTWN1", "wind", 99), U("SNOWNTH1", "wind", 144), U("SNOWSTH1", "wind", 126)),
    F("LKBONNY1", "Lake Bonney Wind Farm", "SA1", -37.73, 140.40,
      U("LKBONNY1", "wind", 81), U("LKBONNY2", "wind", 159), U("LKBONNY3", "wind", 39)),
    F("WATERLWF", "Waterloo Wind Farm", "SA1", -33.97, 138.90, U("WATERLWF", "wind", 131)),
    F("HALLWF", "Hallett 1 (Brown Hill) Wind Farm", "SA1", -33.40, 138.90, U("HALLWF1", "wind", 95)),
    F("NBHWF", "North Brown Hill Wind Farm", "SA1", -33.17, 138.82, U("NBHWF1", "wind", 132)),
    F("CLEMGPWF", "Clements Gap Wind Farm", "SA1", -33.48, 138.10, U("CLEMGPWF", "wind", 57)),
    F("LGAPWF1", "Lincoln Gap Wind Farm", "SA1", -32.75, 137.60, U("LGAPWF1", "wind", 212)),
    F("WGWF", "Willogoleche Wind Farm", "SA1", -33.20, 138.95, U("WGWF1", "wind", 119)),
    F("PAREPW", "Port Augusta Renewable Energy Park", "SA1", -32.55, 137.70,
      U("PAREPW1", "wind", 210), U("PAREPS1", "solar_utility", 107)),
    # Utility solar
    F("BNGSF1", "Bungala Solar Farm", "SA1", -32.43, 137.85,
      U("BNGSF1", "solar_utility", 110), U("BNGSF2", "solar_utility", 110)),
    F("TBSF", "Tailem Bend Solar Farm", "SA1", -35.30, 139.48, U("TBSF1", "solar_utility", 95)),
    # Batteries
    F("HORNSDPR", "Hornsdale Power Reserve", "SA1", -33.09, 138.52, battery("HPR", 150, 1.3, split=True)),
    F("TIB", "Torrens Island BESS", "SA1", -34.80, 138.55, battery("TIB", 250)),
    F("BLYTHB", "Blyth Battery", "SA1", -33.85, 138.48, battery("BLYTHB", 200, 1.0, split=True)),
    F("TEMPB", "Templers BESS", "SA1", -34.46, 138.78, battery("TEMPB", 111)),
    # Bioenergy
    F("WINGF1", "Wingfield Landfill Gas", "SA1", -34.84, 138.59,
      U("WINGF1_1", "bioenergy_biogas", 4, 0.05)),
    # Added for a fleet of the NEM's real size
    F("HALLWF2", "Hallett 2 (Hallett Hill) Wind Farm", "SA1", -33.32, 138.92,
      U("HALLWF2", "wind", 71)),
    F("MTMILLAR", "Mt Millar Wind Farm", "SA1", -33.70, 136.72, U("MTMILLAR", "wind", 70)),
    F("CATHROCK", "Cathedral Rocks Wind Farm", "SA1", -34.80, 135.65, U("CATHROCK", "wind", 66)),
    F("WPWF", "Wattle Point Wind Farm", "SA1", -35.08, 137.75, U("WPWF", "wind", 91)),
    F("STARFHILL", "Starfish Hill Wind Farm", "SA1", -35.55, 138.20, U("STARHLWF", "wind", 35)),
    F("CANUNDA1", "Canunda Wind Farm", "SA1", -37.70, 140.40, U("CNUNDAWF", "wind", 46)),
    F("GSWF", "Goyder South Wind Farm", "SA1", -33.68, 139.00,
      U("GSWF1A", "wind", 209), U("GSWF1B1", "wind", 203)),
    F("LBBESS", "Lake Bonney Battery", "SA1", -37.72, 140.41, battery("LBB", 25, 2.0, split=True)),
)

TAS: tuple[Facility, ...] = (
    # Hydro
    F("GORDON", "Gordon", "TAS1", -42.73, 146.05, U("GORDON", "hydro", 432)),
    F("PTINA", "Poatina", "TAS1", -41.81, 146.91, U("POAT110", "hydro", 300)),
    F("JBUTTERS", "John Butters", "TAS1", -42.15, 145.53, U("JBUTTERS", "hydro", 144)),
    F("REECE", "Reece", "TAS1", -41.73, 145.15, U("REECE1", "hydro", 119), U("REECE2", "hydro", 119)),
    F("CETHANA", "Cethana", "TAS1", -41.48, 146.14, U("CETHANA", "hydro", 100)),
    F("TUNGATIN", "Tungatinah", "TAS1", -42.32, 146.47, U("TUNGATIN", "hydro", 125)),
    F("TARRALEA", "Tarraleah", "TAS1", -42.30, 146.45, U("TARRALEA", "hydro", 90)),
    F("TREVALLN", "Trevallyn", "TAS1", -41.44, 147.10, U("TREVALLN", "hydro", 93)),
    F("LI_WY_CA", "Liapootah, Wayatinah and Catagunya", "TAS1", -42.40, 146.47,
      U("LI_WY_CA", "hydro", 173)),
    F("MACKNTSH", "Mackintosh", "TAS1", -41.70, 145.62, U("MACKNTSH", "hydro", 80)),
    F("BASTYAN", "Bastyan", "TAS1", -41.73, 145.53, U("BASTYAN", "hydro", 80)),
    F("DEVILS_G", "Devils Gate", "TAS1", -41.35, 146.27, U("DEVILS_G", "hydro", 60)),
    F("MEADOWBK", "Meadowbank", "TAS1", -42.62, 146.85, U("MEADOWBK", "hydro", 40)),
    F("FISHER", "Fisher", "TAS1", -41.67, 146.27, U("FISHER", "hydro", 43)),
    F("LEM_WIL", "Lemonthyme and Wilmot", "TAS1", -41.60, 146.13,
      U("LEMONTME", "hydro", 51), U("WILMOT", "hydro", 31)),
    F("CLUNY", "Cluny and Repulse", "TAS1", -42.51, 146.68,
      U("CLUNY", "hydro", 17), U("REPULSE", "hydro", 28)),
    # Gas
    F("TVCCPS", "Tamar Valley", "TAS1", -41.13, 146.90,
      U("TVCC201", "gas_ccgt", 208, 0.42), U("TVPP104", "gas_ocgt", 58, 0.65)),
    F("BBP31", "Bell Bay Three", "TAS1", -41.14, 146.91,
      U("BBTHREE1", "gas_ocgt", 35, 0.75), U("BBTHREE2", "gas_ocgt", 35, 0.75),
      U("BBTHREE3", "gas_ocgt", 35, 0.75)),
    # Wind
    F("MUSSELRO", "Musselroe Wind Farm", "TAS1", -40.88, 148.03, U("MUSSELR1", "wind", 168)),
    F("CTHLWF", "Cattle Hill Wind Farm", "TAS1", -42.08, 146.75, U("CTHLWF1", "wind", 148)),
    F("GRANWF", "Granville Harbour Wind Farm", "TAS1", -41.80, 145.12, U("GRANWF1", "wind", 112)),
    F("WOOLNTH1", "Woolnorth Wind Farm (Bluff Point and Studland Bay)", "TAS1", -40.72, 144.72,
      U("WOOLNTH1", "wind", 140)),
)
# fmt: on

FACILITIES: tuple[Facility, ...] = NSW + QLD + VIC + SA + TAS
