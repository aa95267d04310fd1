import { benchClaimPages } from './claimpage';
benchClaimPages().then((tables) => { for (const t of tables) { console.log(t.title); console.table(t.rows); } });
