-- Reserved for another branch's migration (postgres-shift needs consecutive numbers). The campaigns
-- branch uses 00008; delete this placeholder when the branch that owns 00005 is merged.
select 1;
