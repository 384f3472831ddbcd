-- Reserved for another branch's migration (postgres-shift needs consecutive numbers). The campaigns
-- branch uses 00008; delete this placeholder when the branch that owns 00006 is merged.
select 1;
