"""The demo company's people and groups (`flowdesk seed-demo`; never in production)."""

PASSWORD = "demo"  # demo only, like the tokens `demo-<username>`
GROUPS = {  # key -> (English name, Chinese name)
    "hr": ("HR", "人力资源"),
    "managers": ("Managers", "部门经理"),
    "it_support": ("IT Support", "IT 支持"),
    "it_leads": ("IT Leads", "IT 负责人"),
    "it_north": ("IT North", "北区 IT"),
    "it_east": ("IT East", "东区 IT"),
    "it_south": ("IT South", "南区 IT"),
    "it_west": ("IT West", "西区 IT"),
    "store_ops": ("Store Ops", "门店运营"),
}
USERS = [  # username, display name, roles, groups, locale
    ("requester", "Rita Requester", "requester", ["store_ops"], "en"),
    (
        "it_agent",
        "Ivan IT",
        "requester,agent",
        ["it_support", "it_north", "it_east", "it_south", "it_west"],
        "en",
    ),
    ("manager", "Mei Manager", "requester,approver", ["managers", "it_leads"], "zh"),
    ("hr", "Hannah HR", "requester", ["hr"], "en"),
    ("hr_agent", "Harry HR Agent", "requester,agent", ["hr"], "zh"),
    ("designer", "Dora Designer", "requester,designer", [], "en"),
    ("admin", "Adam Admin", "requester,admin", [], "en"),
]
DEPARTMENTS = {  # username -> department: an agent with one handles only its offerings' requests
    "hr_agent": "hr",  # new-hire onboarding's requests; it_agent (no department) handles all
}
